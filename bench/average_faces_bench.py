"""Streaming average faces vs the naive "stack everything" version: images per second and peak memory.

    FACEFAKE_DATA=../shared/datasets .venv/bin/python bench/average_faces_bench.py [--counts 2200 22000] [--repeats 3]

The image list is faces140k-sample repeated to each count. Every measurement runs in a fresh process so that its
peak resident memory (ru_maxrss) is its own; the table gives medians over the repeats.
"""
import argparse, json, resource, statistics, subprocess, sys, time
import numpy as np

def image_list(count:int):
    from facefake.core import data_root
    from facefake.splits import read_layout
    df = read_layout(data_root()/'faces140k-sample').sort_values('rel')
    reps = int(np.ceil(count / len(df)))
    import pandas as pd
    return pd.concat([df] * reps, ignore_index=True).iloc[:count]

def naive(df, size):
    "Load every image into one array per class, then take the mean and std: memory grows with the count."
    from facefake.core import prepare
    res = {}
    for label, g in df.groupby('label'):
        stack = np.stack([np.asarray(prepare(p, size), dtype=np.float32) / 255. for p in g.path])
        res[label] = (stack.mean(0, dtype=np.float64), stack.std(0, ddof=1, dtype=np.float64))
    return res

def streaming(df, size):
    from facefake.average import average_faces
    return {k: (v.mean, v.std) for k, v in average_faces(df, size=size).items()}

def child(method, count, size):
    df = image_list(count)
    t = time.perf_counter()
    {'naive': naive, 'streaming': streaming}[method](df, size)
    secs = time.perf_counter() - t
    print(json.dumps(dict(seconds=secs, images_per_s=count / secs, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--counts', nargs='*', type=int, default=[2200, 22000])
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--size', type=int, default=128)
    ap.add_argument('--child', nargs=3)
    a = ap.parse_args()
    if a.child: return child(a.child[0], int(a.child[1]), int(a.child[2]))
    rows = []
    for count in a.counts:
        for method in ['streaming', 'naive']:
            runs = []
            for _ in range(a.repeats):
                out = subprocess.run([sys.executable, __file__, '--child', method, str(count), str(a.size)], capture_output=True, text=True)
                if out.returncode: sys.exit(out.stderr)
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            row = dict(images=count, method=method, size=a.size,
                       images_per_s=round(statistics.median(r['images_per_s'] for r in runs)),
                       peak_rss_mb=round(statistics.median(r['peak_rss_mb'] for r in runs)), repeats=a.repeats)
            rows.append(row); print(row, flush=True)
    print('\n' + '\n'.join(f"{r['images']:>6} {r['method']:>9}: {r['images_per_s']:>5} images/s, peak RSS {r['peak_rss_mb']:>6} MB (median of {r['repeats']})" for r in rows))

if __name__ == '__main__': main()
