"""On one GPU: batch scoring through `accelerate launch`, the default probe, and fine-tuned detectors at full resolution.

What the 2-core CPU benches cannot measure, on `faces140k-sample`:

- `facefake-score` (`accelerate launch -m facefake.scale score`, one CUDA process) on 1,000 and 10,000 images:
  images/s and peak memory of the process tree (the folder, of `faces140k-sample` alone, and the measurement are
  `score_bench.py`'s);
- `accelerate launch -m facefake.scale train --method finetune` on CUDA: completes, one detector folder;
- the default detector (the probe `./run.sh demo` saves, given with `--probe`, else fitted here): its validation
  figures, and its body's forward pass alone in images/s;
- fine-tuned MobileNetV2 detectors (`train_detector`) at the probe's 320 px and at 224 px, more epochs than a CPU
  allows, beside the probe, compared on the VALIDATION split; test figures only for the row validation chose.

Fine-tuning reads images in 8 DataLoader workers here (`face_dls`'s `num_workers`; the library's default is 0,
right for 2 cores). Rows are skipped, and say so, once `--budget` seconds have passed.

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch \\
      python bench/gpu_bench.py --probe PROBE_DIR --json-out bench/results/gpu.json
"""
import argparse, json, os, subprocess, sys, tempfile, time
from functools import partial
from pathlib import Path
import torch
from facefake.metrics import split_metrics
from facefake.splits import load_dataset
from benchinfo import run_info
from score_bench import make_folder, measure

BIN = Path(sys.executable).parent

def figures(det, df, split:str) -> dict:
    "Accuracy at the detector's threshold, AUC and TPR at 1% FPR on one split."
    m = split_metrics(det, df, split)
    return {k: round(float(m[k]), 4) for k in ('accuracy', 'roc_auc', 'tpr_at_1pct_fpr')}

def forward_speed(size:int=320, bs:int=128, reps:int=20, device:str='cuda') -> float:
    "Images/s of the probe's body alone on random batches (float32, after warm-up): the ceiling of the feature pass."
    from facefake.probe import PROBE_HEAD
    from facefake.train import build_model
    body = build_model('mobilenet_v2_taps8', 2, pretrained=True, head=PROBE_HEAD)[0].to(device).eval()
    x = torch.randn(bs, 3, size, size, device=device)
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    with torch.no_grad():
        for _ in range(3): body(x)
        sync(); t = time.perf_counter()
        for _ in range(reps): body(x)
        sync()
    return round(bs * reps / (time.perf_counter() - t), 1)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--counts', type=int, nargs='+', default=[1000, 10000], help='images for the scoring runs')
    ap.add_argument('--workers', type=int, default=8, help='reader workers for scoring and fine-tuning')
    ap.add_argument('--epochs', type=int, default=12, help='fine-tuning epochs (after one frozen epoch)')
    ap.add_argument('--budget', type=float, default=330, help='seconds after which no new fine-tuning row starts')
    ap.add_argument('--sizes', type=int, nargs='+', default=[320, 224], help='fine-tuning image sides (the first also with forensic augmentation)')
    ap.add_argument('--limit', type=int, help='at most this many images per class (a dry run)')
    ap.add_argument('--probe', help='the default detector, saved by `facefake-train faces140k-sample` (default: fit it here)')
    ap.add_argument('--dry-run', action='store_true', help='run on the CPU, to check the script before a GPU session')
    ap.add_argument('--json-out')
    a = ap.parse_args()
    if not (torch.cuda.is_available() or a.dry_run): ap.error('needs a CUDA GPU')
    if a.json_out and Path(a.json_out).exists(): ap.error(f'{a.json_out} exists; give a new file')
    t0, tmp = time.perf_counter(), Path(tempfile.mkdtemp(prefix='gpu-bench-'))
    res = dict(bench='gpu', **run_info(), scoring=[], detectors=[])
    def save():
        if a.json_out: Path(a.json_out).write_text(json.dumps(res, indent=2) + '\n')
        print(json.dumps(res['scoring'][-1:] + res['detectors'][-1:]), flush=True)

    # 1. fine-tuning through the scale command on CUDA (a small sample: that it runs and writes one folder)
    df = load_dataset('faces140k-sample', limit=a.limit)
    out = tmp/'scale-finetune'
    launch = [str(BIN/'accelerate'), 'launch', '--num_processes', '1', '--num_machines', '1', '--mixed_precision', 'no',
              '--dynamo_backend', 'no', '-m', 'facefake.scale']
    t = time.perf_counter()
    p = subprocess.run(launch + ['train', 'faces140k-sample', str(out), '--method', 'finetune', '--epochs', '1', '--limit', str(min(200, a.limit or 200))],
                       capture_output=True, text=True)
    res['scale_train'] = dict(returncode=p.returncode, seconds=round(time.perf_counter() - t, 1),
                              folders=sorted(q.name for q in tmp.iterdir()), printed=(p.stdout.strip().splitlines() or [''])[-1],
                              error=p.stderr[-1500:] if p.returncode else '')
    print(res['scale_train'], flush=True)

    # 2. the default detector (the probe `./run.sh demo` saves, or fitted here): validation figures; the body's forward pass alone
    from facefake.detector import load_detector, save_detector
    probe_dir = a.probe
    if probe_dir: probe = load_detector(probe_dir, device='cuda' if torch.cuda.is_available() else 'cpu')
    else:
        from facefake.probe import fit_probe
        t = time.perf_counter(); probe, _ = fit_probe(df)
        save_detector(probe, probe_dir := tmp/'probe')
    res['detectors'].append(dict(detector='probe (default)', arch=probe.card['arch'], size=probe.card['size'], seconds=None if a.probe else round(time.perf_counter() - t, 1),
                                 valid=figures(probe, df, 'valid')))
    res['body_forward_images_per_second'] = forward_speed(device='cuda' if torch.cuda.is_available() else 'cpu', reps=1 if a.dry_run else 20); save()

    # 3. batch scoring with the default detector, one CUDA process
    for n in a.counts:
        folder, csv = make_folder(tmp, n, sets=('faces140k-sample',)), tmp/f'scores{n}.csv'
        r = measure(launch + ['score', str(probe_dir), str(folder), '--out', str(csv), '--workers', str(a.workers),
                              '--no-progress'], n, {**os.environ})
        with open(csv) as f: assert sum(1 for _ in f) - 1 == n, f'{csv}: not {n} rows'
        res['scoring'].append(dict(command=f'facefake-score, 1 CUDA process x {a.workers} reader workers', **r)); save()

    # 4. fine-tuned detectors, more epochs than a CPU allows; validation chooses among all rows
    import facefake.train as T
    T.face_dls = partial(T.face_dls, num_workers=a.workers)
    fitted = {'probe (default)': probe}
    for size, forensic in [(s, False) for s in a.sizes] + [(a.sizes[0], True)]:
        name = f'fine-tune {size}px, {a.epochs} epochs' + (', forensic augmentation' if forensic else '')
        if time.perf_counter() - t0 > a.budget:
            res['detectors'].append(dict(detector=name, skipped=f'over the {a.budget:.0f} s budget')); continue
        t = time.perf_counter()
        det, _ = T.train_detector(df, arch='mobilenet_v2', size=size, epochs=a.epochs, bs=64, forensic=forensic)
        res['detectors'].append(dict(detector=name, arch='mobilenet_v2', size=size, seconds=round(time.perf_counter() - t, 1),
                                     valid=figures(det, df, 'valid')))
        fitted[name] = det; save()
    done = [r for r in res['detectors'] if 'valid' in r]
    best = max(done, key=lambda r: (r['valid']['roc_auc'], r['valid']['accuracy']))
    best['test'] = figures(fitted[best['detector']], df, 'test')
    res['chosen_on_validation'] = best['detector']
    res['seconds'] = round(time.perf_counter() - t0, 1); save()

if __name__ == '__main__': main()
