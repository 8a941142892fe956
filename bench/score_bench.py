"""Batch scoring: images/s and peak memory of `facefake-score` on 1,000 and 10,000 images, 1 vs 2 processes, beside the `facefake-predict` loop.

The folder is made of symlinks to the shared sets' files, repeated under new names (the scorer reads and hashes every
file; a symlink costs nothing on disk). Each run is a fresh command in its own process tree; peak memory is the
largest resident set of the whole tree (launcher, scoring processes and their DataLoader workers) sampled every
0.1 s, and per-process peaks are reported too. Flat memory means the peak does not grow from 1,000 to 10,000 images.

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch \\
      .venv/bin/python bench/score_bench.py MODEL --counts 1000 10000 --json-out bench/results/score.json
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path
import psutil
from facefake.core import data_root, image_files
from benchinfo import run_info

BIN = Path(sys.executable).parent

def make_folder(root:Path, n:int) -> Path:
    "n symlinks to the shared faces (both sets, repeated), 500 to a sub-folder."
    src = image_files(data_root()/'faces140k-sample') + image_files(data_root()/'rff-part')
    folder = root/f'photos{n}'
    for i in range(n):
        d = folder/f'{i // 500:04d}'; d.mkdir(parents=True, exist_ok=True)
        p = src[i % len(src)]
        os.symlink(p, d/f'{i:06d}{p.suffix}')
    return folder

def measure(cmd:list, n:int, env:dict) -> dict:
    "Run `cmd`; wall time, images/s and the peak resident memory of its process tree."
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    top, peak, per = psutil.Process(p.pid), 0, {}
    while p.poll() is None:
        try:
            procs = [top] + top.children(recursive=True)
            rss = {q.pid: q.memory_info().rss for q in procs}
            peak = max(peak, sum(rss.values()))
            for pid, r in rss.items(): per[pid] = max(per.get(pid, 0), r)
        except psutil.Error: pass
        time.sleep(0.1)
    err = p.stderr.read().decode()
    if p.returncode: raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{err[-2000:]}")
    s = time.perf_counter() - t0
    return dict(images=n, seconds=round(s, 1), images_per_second=round(n / s, 2), peak_tree_mib=round(peak / 2**20),
                largest_process_mib=round(max(per.values()) / 2**20), processes_seen=len(per))

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('model', help='detector folder')
    ap.add_argument('--counts', type=int, nargs='+', default=[1000, 10000])
    ap.add_argument('--predict-count', type=int, default=1000, help='images for the facefake-predict loop')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--json-out')
    a = ap.parse_args()
    if a.json_out and Path(a.json_out).exists(): ap.error(f'{a.json_out} exists; give a new file')
    card = json.loads((Path(a.model)/'card.json').read_text())
    tmp = Path(tempfile.mkdtemp(prefix='score-bench-'))
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    rows = []
    for n in sorted(set(a.counts + [a.predict_count])):
        folder = make_folder(tmp, n)
        if n == a.predict_count:
            r = measure([str(BIN/'facefake-predict'), a.model, str(folder), '--csv-out', str(tmp/f'predict{n}.csv')], n, {**os.environ})
            rows.append(dict(command='facefake-predict (one image at a time)', processes=1, **r)); print(rows[-1], flush=True)
        if n not in a.counts: continue
        for procs in (1, 2):
            out = tmp/f'scores{n}-{procs}.csv'
            launch = [str(BIN/'accelerate'), 'launch', '--num_processes', str(procs), '--num_machines', '1', '--mixed_precision', 'no',
                      '--dynamo_backend', 'no', *(['--multi_gpu'] if procs > 1 else []), '-m', 'facefake.scale', 'score']
            cmd = launch + [a.model, str(folder), '--out', str(out), '--workers', str(a.workers), '--no-progress']
            r = measure(cmd, n, env if procs > 1 else {**os.environ})
            with open(out) as f: lines = sum(1 for _ in f) - 1
            assert lines == n, f"{out}: {lines} rows for {n} images"
            rows.append(dict(command=f'facefake-score, {procs} process{"es" if procs > 1 else ""} x {a.workers} reader workers', processes=procs, **r))
            print(rows[-1], flush=True)
    res = dict(bench='score', **run_info(), model=card.get('name'), size=card.get('size'), framing=card.get('framing', {}).get('recipe'), rows=rows)
    if a.json_out: Path(a.json_out).write_text(json.dumps(res, indent=2) + '\n')

if __name__ == '__main__': main()
