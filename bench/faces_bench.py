"""Face cropping: speed of `crop_folder` against a plain loop, and detection rates per class, per backend.

    FACEFAKE_DATA=../shared/datasets .venv/bin/python bench/faces_bench.py [--backends haar dlib] [--runs 3] [--workers 2]
        [--limit N] [--no-loop]

What the chapter reports: speed from `--runs 3 --limit 100` (200 images per set), detection rates from
`--runs 1 --no-loop` on every image of both sets.

For each shared dataset and each backend it runs, `--runs` times and alternating:
- `crop_folder(src, dst, backend, n_workers=--workers)` on every image (fresh output folder each run);
- the simplest alternative a user would write: one process, a for-loop of `load_image`, `detect_faces`,
  `align_face` and saving the PNG, with the same backend and the same work per image.
It prints the median images per second of both, their ratio, and from the crop_folder run the detection rate per
class (cropped / readable), the gap between the classes, the share of crops placed from landmarks, and the balanced
accuracy of a tree that sees only the face position/size (`framing_accuracy`, ~50% means no framing shortcut).

Optional backends are measured where they import: dlib via `pip install "facefake[dlib]"`, MTCNN via
`pip install --no-deps facenet-pytorch`, BlazeFace only in an environment with mediapipe<=0.10.21 and numpy<2.
"""
import argparse, os, shutil, statistics, tempfile, time, warnings
from pathlib import Path
import pandas as pd
from facefake.core import BadImageError, data_root, load_image
from facefake.faces import BACKENDS, align_face, available_backends, crop_folder, detect_faces, detection_rates, framing_accuracy

def plain_loop(files:list, out:Path, backend:str) -> int:
    "What a user would write first: one process, one file after another. Returns the number of crops."
    b, n = BACKENDS[backend], 0
    out.mkdir(parents=True)
    for f in files:
        try: img = load_image(f)
        except BadImageError: continue
        faces = detect_faces(img, backend)
        if not faces: continue
        face = faces[0]
        crop = align_face(img, face['landmarks'], box=face['box'], box_scale=b.box_scale, box_shift=b.box_shift)
        crop.save(out/f"{f.parent.name}_{f.stem}.png", compress_level=1)
        n += 1
    return n

def bench(name:str, backend:str, runs:int, workers:int, tmp:Path, limit:int=None, loop_too:bool=True) -> dict:
    src = data_root()/name
    files = sorted(p for p in src.rglob('*.jpg'))
    if limit: files = [p for lbl in ('real', 'fake') for p in [q for q in files if q.parent.name == lbl][:limit]]
    rels = [p.relative_to(src).as_posix() for p in files]
    par, loop, df = [], [], None
    for r in range(runs):
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            d = crop_folder(src, tmp/f'{name}-{backend}-par{r}', backend, files=rels, n_workers=workers, progress=False)
        par.append(len(files) / (time.perf_counter() - t))
        df = d if df is None else df
        t = time.perf_counter()
        if loop_too: plain_loop(files, tmp/f'{name}-{backend}-loop{r}', backend)
        loop.append(len(files) / (time.perf_counter() - t) if loop_too else float('nan'))
        print(f"  {name} {backend} run {r + 1}: crop_folder {par[-1]:.1f} img/s, loop {loop[-1]:.1f} img/s, load {os.getloadavg()[0]:.1f}", flush=True)
        for p in tmp.glob(f'{name}-{backend}-*'): shutil.rmtree(p)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        rates = detection_rates(df)
    ok = df[df.status == 'cropped']
    try: frame = framing_accuracy(df)
    except ImportError: frame = float('nan')
    return dict(dataset=name, backend=backend, images=len(files), workers=workers,
                par_ips=statistics.median(par), loop_ips=statistics.median(loop),
                speedup=statistics.median(par) / statistics.median(loop),
                real=rates.detected.get('real', float('nan')), fake=rates.detected.get('fake', float('nan')),
                gap=rates.attrs['gap'], landmarks=float((ok.method != 'box').mean()), framing_acc=frame,
                statuses=', '.join(f"{k} {v}" for k, v in df.status.value_counts().items()))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--backends', nargs='*', default=None, help='default: every backend installed here')
    ap.add_argument('--datasets', nargs='*', default=['faces140k-sample', 'rff-part'])
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--limit', type=int, default=None, help='at most this many images per class (a subset for timing)')
    ap.add_argument('--no-loop', action='store_true', help='skip the plain loop: detection rates only')
    args = ap.parse_args()
    backends = args.backends or available_backends()
    print(f"backends {backends}; {os.cpu_count()} CPUs; load average at start {os.getloadavg()[0]:.1f}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix='faces-bench-'))
    try: rows = [bench(d, b, args.runs, args.workers, tmp, args.limit, not args.no_loop) for b in backends for d in args.datasets]
    finally: shutil.rmtree(tmp, ignore_errors=True)
    res = pd.DataFrame(rows)
    pd.set_option('display.width', 200)
    print(f"\nmedians of {args.runs} runs; load average at end {os.getloadavg()[0]:.1f}")
    print(res.drop(columns='statuses').to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print('\nstatuses (first run):')
    for r in rows: print(f"  {r['dataset']} {r['backend']}: {r['statuses']}")

if __name__ == '__main__': main()
