"""Cold start of `facefake-predict MODEL one.jpg`, each command a fresh process, median of --repeat runs, beside
`python -c "import torch"`, torch with torchvision, and the same prediction with fastai imported first (what the
command paid when it loaded detectors through `facefake.train`).

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch \
      .venv/bin/python bench/cold_start_bench.py runs/framing-ft128/finetune-face --json-out runs/cold-start.json
"""
import argparse, datetime as dt, json, os, platform, statistics, subprocess, sys, time
from pathlib import Path

def timed(cmd:list, repeat:int) -> dict:
    "Wall seconds of `cmd` run `repeat` times in fresh processes: the median and every run."
    secs = []
    for _ in range(repeat):
        start = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        secs.append(time.perf_counter() - start)
        if r.returncode: sys.exit(f"{' '.join(cmd)} failed: {r.stderr[-2000:]}")
    return dict(median=round(statistics.median(secs), 3), runs=[round(s, 3) for s in secs])

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('model', help='a saved detector folder')
    ap.add_argument('--image', default=None, help='the image to check (default: the first FFHQ photo of the shared sample)')
    ap.add_argument('--repeat', type=int, default=5)
    ap.add_argument('--json-out')
    a = ap.parse_args()
    if a.json_out and Path(a.json_out).exists(): ap.error(f'{a.json_out} exists; give a new file')
    from facefake.core import data_root
    img = a.image or str(data_root()/'faces140k-sample'/'real'/'00000.jpg')
    py, predict = sys.executable, str(Path(sys.executable).parent/'facefake-predict')
    with_fastai = ("import sys, fastai.vision.all; from facefake.cli import predict_cli; "
                   "sys.argv = ['facefake-predict', sys.argv[1], sys.argv[2]]; predict_cli.__wrapped__(sys.argv[1], sys.argv[2])")
    cases = {'import torch': [py, '-c', 'import torch'],
             'import torch, torchvision': [py, '-c', 'import torch, torchvision'],
             'facefake-predict --help': [predict, '--help'],
             'facefake-predict MODEL one.jpg': [predict, a.model, img],
             'the same with fastai imported first': [py, '-c', with_fastai, a.model, img]}
    res = {k: timed(cmd, a.repeat) for k, cmd in cases.items()}
    out = dict(bench='cold_start', date=dt.datetime.now().isoformat(timespec='seconds'), machine=platform.machine(),
               cpus=os.cpu_count(), command=' '.join([Path(py).name] + sys.argv), model=a.model, image=img, seconds=res,
               ratio_to_torch=round(res['facefake-predict MODEL one.jpg']['median'] / res['import torch']['median'], 2))
    print(json.dumps(out, indent=2))
    if a.json_out: Path(a.json_out).write_text(json.dumps(out, indent=2))

if __name__ == '__main__': main()
