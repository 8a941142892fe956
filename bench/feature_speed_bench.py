"""Speed of the linear probe's feature pass (`facefake.probe.pooled_features`), images per second, beside the plain
PyTorch forward pass of the same body on ready tensors and the machine's limit: the body's FLOPs per image (counted
by `torch.utils.flop_counter`) times images per second, against the FLOP rate of a large matrix product on the same
cores (what the CPU can actually sustain), each the median of --repeat runs.

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch \\
      .venv/bin/python bench/feature_speed_bench.py --n 64 --json-out bench/results/feature_speed.json
"""
import argparse, datetime as dt, json, os, platform, statistics, sys, time
from pathlib import Path
import torch
from torch.utils.flop_counter import FlopCounterMode
from facefake.core import conv_layout, data_root, prepare, to_tensor
from facefake.faces import frame_image, framing_spec
from facefake.detector import build_model
from facefake.probe import PROBE_HEAD, PROBE_SIZE, pooled_features

def median_seconds(f, repeat:int) -> float:
    "Median wall seconds of `f()` over `repeat` calls, after one warm-up call."
    f(); secs = []
    for _ in range(repeat):
        t = time.perf_counter(); f(); secs.append(time.perf_counter() - t)
    return statistics.median(secs)

def gemm_gflops(n:int=2048, repeat:int=5) -> float:
    "Sustained GFLOP/s of an n x n float32 matrix product on this machine's cores (2 n^3 FLOPs each)."
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n ** 3 / median_seconds(lambda: a @ b, repeat) / 1e9

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--n', type=int, default=64, help='images (half real, half fake, from faces140k-sample)')
    ap.add_argument('--size', type=int, default=PROBE_SIZE, help="image side (default: the default detector's)")
    ap.add_argument('--arch', default='mobilenet_v2_taps8')
    ap.add_argument('--bs', type=int, default=32)
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--json-out')
    a = ap.parse_args()
    if a.json_out and Path(a.json_out).exists(): ap.error(f'{a.json_out} exists; give a new file')
    root = data_root()/'faces140k-sample'
    paths = sorted((root/'real').glob('*.jpg'))[:a.n // 2] + sorted((root/'fake').glob('*.jpg'))[:a.n - a.n // 2]
    body = build_model(a.arch, 2, pretrained=True, head=PROBE_HEAD)[0].eval().to(memory_format=conv_layout('cpu'))
    face = framing_spec('face')
    with torch.inference_mode():
        t = time.perf_counter(); framed = [frame_image(p, face, whole_if_no_face=True)[0] for p in paths]; first_framing = time.perf_counter() - t
        x = torch.stack([to_tensor(prepare(im, a.size)) for im in framed]).to(memory_format=conv_layout('cpu'))
        with FlopCounterMode(display=False) as fc: body(x[:1])
        flops = fc.get_total_flops()
        forward = median_seconds(lambda: [body(x[i:i + a.bs]) for i in range(0, len(x), a.bs)], a.repeat)
        prep = median_seconds(lambda: [to_tensor(prepare(im, a.size)) for im in framed], a.repeat)
        library = median_seconds(lambda: pooled_features(body, paths, a.size, bs=a.bs, framing=face), a.repeat)   # framing cached after the first pass
    peak = gemm_gflops()
    ips = lambda s: round(a.n / s, 1)
    res = dict(bench='feature_speed', date=dt.datetime.now().isoformat(timespec='seconds'), machine=platform.machine(),
               cpus=os.cpu_count(), torch_threads=torch.get_num_threads(), command=' '.join([Path(sys.executable).name] + sys.argv),
               arch=a.arch, size=a.size, n=a.n, bs=a.bs, gflops_per_image=round(flops / 1e9, 3),
               images_per_second=dict(face_search_first_pass=ips(first_framing), prepare=ips(prep),
                                      plain_forward=ips(forward), pooled_features_framing_cached=ips(library)),
               gemm_gflops_per_second=round(peak, 1),
               forward_share_of_gemm_rate=round(flops * a.n / forward / 1e9 / peak, 3))
    print(json.dumps(res, indent=2))
    if a.json_out: Path(a.json_out).write_text(json.dumps(res, indent=2))

if __name__ == '__main__': main()
