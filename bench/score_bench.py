"""Batch scoring: images/s and peak memory of `facefake-score` on 1,000 and 10,000 images, 1 vs 2 processes, beside the `facefake-predict` loop.

The folder is made of symlinks to the shared sets' files, repeated under new names (the scorer reads and hashes every
file; a symlink costs nothing on disk). Each run is a fresh command in its own process tree, wall time including
its start (imports, model load). Peak memory is the largest proportional set size (PSS: shared pages split between
the processes that share them, so forked workers are not counted twice) of the whole tree (launcher, scoring
processes and their DataLoader workers), sampled every 0.1 s; the largest resident set of any one process
beside it; the peaks over the first tenth and the last half of the run's time show whether memory climbs as a run goes
on. Flat memory means the peak does not grow from 1,000 to 10,000 images, nor from the start of a run to its end.

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch \\
      .venv/bin/python bench/score_bench.py MODEL --counts 1000 10000 --json-out bench/results/score.json
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path
import psutil
from facefake.core import data_root, image_files
from benchinfo import run_info

BIN = Path(sys.executable).parent

def make_folder(root:Path, n:int, sets=('faces140k-sample', 'rff-part')) -> Path:
    "n symlinks to the shared sets' faces (repeated), 500 to a sub-folder."
    src = [p for s in sets for p in image_files(data_root()/s)]
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
    top, samples, per = psutil.Process(p.pid), [], {}
    while p.poll() is None:
        try:
            mem = {q.pid: q.memory_full_info() for q in [top] + top.children(recursive=True)}
            samples.append((time.perf_counter() - t0, sum(m.pss for m in mem.values())))   # shared pages counted once
            for pid, m in mem.items(): per[pid] = max(per.get(pid, 0), m.rss)
        except psutil.Error: pass
        time.sleep(0.1)
    err = p.stderr.read().decode()
    if p.returncode: raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{err[-2000:]}")
    s = time.perf_counter() - t0
    mib = lambda part: round(max((m for t, m in part), default=0) / 2**20)
    return dict(images=n, seconds=round(s, 1), images_per_second=round(n / s, 2), peak_tree_pss_mib=mib(samples),
                peak_first_tenth_mib=mib([x for x in samples if x[0] <= s / 10]), peak_last_half_mib=mib([x for x in samples if x[0] > s / 2]),
                largest_process_rss_mib=round(max(per.values()) / 2**20), processes_seen=len(per))

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
