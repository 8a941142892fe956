"""`facefake-serve` on loopback: throughput, latency and memory at 1, 4 and 8 clients; the latency of 4 clients while a
fifth sends huge images; `facefake-score` on the same images for comparison; and the fault runs (two servers, a
read-only reader or `facefake-train --feedback`, four clients posting judgements) with acknowledged vs stored counts.

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch \\
      .venv/bin/python bench/serve_bench.py MODEL --json-out bench/results/serve.json

MODEL is any detector folder: speed depends on the network and image side, not on the training data (the results page
used a linear probe at the default 320 px fitted on 100 faces per class of faces140k-sample). Each client posts one image per request over its own kept-alive connection (no Grad-CAM, as `facefake-predict` by
default), cycling through the same distinct test faces; `check_image` on them in one process is measured beside. Memory is the resident set of the server's whole process tree (the server and its worker
processes): idle after start-up, the peak sampled every 0.1 s during a level, and after 5 s idle at the end.
Bounded: at most --requests requests per level and --max-seconds per level.
"""
import argparse, io, json, os, statistics, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import httpx
from PIL import Image
from facefake.core import data_root
from benchinfo import run_info
from serving import BIN, fault_run, launch, reader_command, stop, tree_rss_mib, wait_ready

def pct(xs:list, q:float) -> float: return round(1000 * sorted(xs)[min(len(xs) - 1, int(q * len(xs)))], 1)

class Peak:
    "The largest tree RSS of `pid` while the `with` block runs, sampled every 0.1 s."
    def __init__(self, pid): self.pid, self.peak, self.done = pid, 0.0, threading.Event()
    def _watch(self):
        while not self.done.is_set(): self.peak = max(self.peak, tree_rss_mib(self.pid)); time.sleep(0.1)
    def __enter__(self): self.t = threading.Thread(target=self._watch); self.t.start(); return self
    def __exit__(self, *a): self.done.set(); self.t.join()

def load(url:str, blobs:list, clients:int, requests:int, max_seconds:float, heavy:tuple=None) -> dict:
    "`clients` clients posting one image each per request; with `heavy` (name, bytes), one more client posts it in a loop."
    start, stop_heavy, heavy_codes, local = time.perf_counter(), threading.Event(), [], threading.local()
    def one(i):
        if time.perf_counter() - start > max_seconds: return None
        if not hasattr(local, 'c'): local.c = httpx.Client(timeout=300)   # one connection per client, kept alive, as a program would
        t = time.perf_counter()
        r = local.c.post(url + '/v1/predict', files=[('files', blobs[i % len(blobs)])])
        return time.perf_counter() - t, r.status_code
    def heavy_client():
        with httpx.Client(timeout=300) as c:
            while not stop_heavy.is_set():
                heavy_codes.append(c.post(url + '/v1/predict', files=[('files', heavy)]).status_code)
    h = threading.Thread(target=heavy_client) if heavy else None
    if h: h.start(); time.sleep(1)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as ex: out = [o for o in ex.map(one, range(requests)) if o]
    wall = time.perf_counter() - t0
    if h: stop_heavy.set(); h.join()
    lat = [t for t, _ in out]
    row = dict(clients=clients, requests=len(out), errors=sum(s != 200 for _, s in out), throughput_per_s=round(len(out) / wall, 2),
               p50_ms=pct(lat, .5), p95_ms=pct(lat, .95), p99_ms=pct(lat, .99))
    if heavy: row.update(heavy_requests=len(heavy_codes), heavy_answers=sorted(set(heavy_codes)))
    return row

def image(w:int, h:int, fmt:str) -> bytes:
    "A noisy w x h image (noise so that a JPEG keeps its size), as a file."
    import numpy as np
    small = np.random.default_rng(0).integers(0, 255, (h // 16, w // 16, 3), dtype=np.uint8)
    b = io.BytesIO(); Image.fromarray(small).resize((w, h)).save(b, fmt, quality=85); return b.getvalue()

def in_process_ms(model:str, paths:list) -> float:
    "Median time of `check_image` (facefake-predict's path) on the same images in this process, warm, torch's default threads."
    from facefake.detector import load_detector
    from facefake.serve import Registry
    from facefake.widget import check_image
    reg = Registry(model)
    det = load_detector(reg.folder(reg.default()))
    check_image(det, paths[0], gradcam=False)
    times = []
    for p in paths:
        t = time.perf_counter(); check_image(det, p, gradcam=False); times.append(time.perf_counter() - t)
    return round(1000 * statistics.median(times), 1)

def blank_png(w:int, h:int) -> bytes:
    "A blank w x h PNG: millions of pixels in a few hundred KB, as an attacker would send them."
    b = io.BytesIO(); Image.new('RGB', (w, h)).save(b, 'PNG'); return b.getvalue()

def score_rate(model:str, paths:list, n:int, tmp:Path) -> dict:
    "facefake-score on `n` symlinks to `paths` (the server's images), one process: images/s over the whole command."
    from score_bench import measure
    folder = tmp/'score-images'; folder.mkdir()
    for i in range(n): (folder/f'{i:05d}{paths[i % len(paths)].suffix}').symlink_to(paths[i % len(paths)])

    r = measure([str(BIN/'facefake-score'), model, str(folder), '--out', str(tmp/'scores.csv'), '--no-progress'], n, dict(os.environ))
    return dict(images=n, seconds=r['seconds'], images_per_second=r['images_per_second'])

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('model', help='a detector folder (or a folder of them)')
    ap.add_argument('--images', type=int, default=20, help='distinct shared test images to cycle through')
    ap.add_argument('--requests', type=int, default=200, help='requests per concurrency level')
    ap.add_argument('--max-seconds', type=float, default=240, help='stop a level after this long')
    ap.add_argument('--score-images', type=int, default=400, help='images for the facefake-score comparison')
    ap.add_argument('--fault-seconds', type=float, default=30, help='length of each fault run')
    ap.add_argument('--json-out')
    a = ap.parse_args()
    if a.json_out and Path(a.json_out).exists(): ap.error(f'{a.json_out} exists; give a new file')
    sample = data_root()/'faces140k-sample'
    paths = sorted((sample/'fake').glob('*.jpg'))[-(a.images // 2):] + sorted((sample/'real').glob('*.jpg'))[-(a.images // 2):]
    blobs = [(p.name, p.read_bytes(), 'image/jpeg') for p in paths]
    tmp = Path(tempfile.mkdtemp(prefix='serve-bench-'))
    res = dict(bench='serve', **run_info(), model=Path(a.model).name, check_image_in_process_ms=in_process_ms(a.model, paths))
    proc, url = launch(a.model, tmp/'fb.sqlite', tmp/'serve.log')
    try:
        t = time.perf_counter(); wait_ready(proc, url, tmp/'serve.log'); res['start_seconds'] = round(time.perf_counter() - t, 1)
        httpx.post(url + '/v1/predict', files=[('files', blobs[0])], timeout=120)
        mem = dict(idle=round(tree_rss_mib(proc.pid)))
        levels = []
        for clients in (1, 4, 8):
            with Peak(proc.pid) as pk: row = load(url, blobs, clients, a.requests, a.max_seconds)
            levels.append(dict(row, peak_rss_mib=round(pk.peak))); print(levels[-1], flush=True)
        res['levels'] = levels
        heavy = []
        for what, blob in (('64 MP PNG (refused from its header)', ('huge.png', blank_png(8000, 8000), 'image/png')),
                           ('24 MP JPEG (within the 25 MP budget)', ('big.jpg', image(6000, 4000, 'JPEG'), 'image/jpeg'))):
            with Peak(proc.pid) as pk: row = load(url, blobs, 4, a.requests // 2, a.max_seconds, heavy=blob)
            heavy.append(dict(row, heavy=what, heavy_file_mib=round(len(blob[1]) / 2**20, 1), peak_rss_mib=round(pk.peak),
                              p95_vs_unloaded=round(row['p95_ms'] / levels[1]['p95_ms'], 2)))
            print(heavy[-1], flush=True)
        res['with_heavy_client'] = heavy
        time.sleep(5); mem['after_5s_idle'] = round(tree_rss_mib(proc.pid))
        res['server_tree_rss_mib'] = mem
    finally: stop(proc)
    res['facefake_score'] = score_rate(a.model, paths, a.score_images, tmp)
    res['eight_clients_vs_score'] = round(levels[2]['throughput_per_s'] / res['facefake_score']['images_per_second'], 2)
    print('facefake-score:', res['facefake_score'], 'ratio', res['eight_clients_vs_score'], flush=True)
    faces = sorted((sample/'fake').glob('*.jpg'))[:4]
    faults = {}
    for what, reader in (('two servers + read-only reader', lambda d: reader_command(d/'feedback.sqlite', a.fault_seconds)),
                         ('two servers + facefake-train --feedback', lambda d: [str(BIN/'facefake-train'), str(sample), str(d/'retrained'),
                          '--feedback', str(d/'feedback.sqlite'), '--uploads', str(d/'uploads'), '--limit', '20', '--size', '64'])):
        d = tmp/what.split()[-1].strip('-'); d.mkdir()
        run = fault_run(a.model, d, faces, reader(d), a.fault_seconds)
        faults[what] = {k: v for k, v in run.items() if k != 'reader_out'}
        print(what, faults[what], flush=True)
    res['faults'] = faults
    print(json.dumps({k: res[k] for k in ('server_tree_rss_mib', 'eight_clients_vs_score')}))
    if a.json_out: Path(a.json_out).write_text(json.dumps(res, indent=2) + '\n')

if __name__ == '__main__': main()
