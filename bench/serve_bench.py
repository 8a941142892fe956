"""Latency and throughput of `facefake-serve` on loopback, for 1, 4 and 8 concurrent clients, beside the time
`facefake-predict`'s code path (`check_image`) takes per image in one process on the same files; the server's memory
before and after. Each client posts one image per request (no Grad-CAM, as `facefake-predict` by default).

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch \\
      .venv/bin/python bench/serve_bench.py facefake-report/detector --requests 200 --json-out bench/results/serve.json

Bounded: at most --requests requests per concurrency level and --max-seconds per level.
"""
import argparse, datetime as dt, json, os, platform, socket, statistics, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import httpx
from facefake.core import data_root

def rss_mib(pid:int) -> float:
    "Resident memory of a process in MiB (Linux /proc)."
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'): return int(line.split()[1]) / 1024
    return float('nan')

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('model', help='a detector folder (or a folder of them)')
    ap.add_argument('--images', type=int, default=20, help='distinct shared test images to cycle through')
    ap.add_argument('--requests', type=int, default=200, help='requests per concurrency level')
    ap.add_argument('--max-seconds', type=float, default=240, help='stop a level after this long')
    ap.add_argument('--json-out')
    a = ap.parse_args()
    if a.json_out and Path(a.json_out).exists(): ap.error(f'{a.json_out} exists; give a new file')
    paths = sorted((data_root()/'faces140k-sample'/'fake').glob('*.jpg'))[:a.images // 2] + sorted((data_root()/'faces140k-sample'/'real').glob('*.jpg'))[:a.images // 2]
    blobs = [(p.name, p.read_bytes()) for p in paths]
    # facefake-predict's per-image time: the same check_image, in one process, warm
    from facefake.detector import load_detector
    from facefake.widget import check_image
    from facefake.serve import Registry
    reg = Registry(a.model)   # a detector folder, or a folder of them (the first by name is benchmarked)
    det = load_detector(reg.folder(reg.default()))
    check_image(det, paths[0], gradcam=False)
    times = []
    for p in paths:
        t = time.perf_counter(); check_image(det, p, gradcam=False); times.append(time.perf_counter() - t)
    direct = dict(median_ms=round(1000 * statistics.median(times), 1), images=len(paths))
    print('check_image in-process (facefake-predict\'s path):', direct, flush=True)
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    tmp = Path(tempfile.mkdtemp())
    proc = subprocess.Popen([str(Path(sys.executable).parent/'facefake-serve'), a.model, '--port', str(port), '--feedback', str(tmp/'fb.sqlite')],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(300):
            try:
                if httpx.get(url + '/v1/health', timeout=2).status_code == 200: break
            except httpx.HTTPError: time.sleep(0.2)
        mem_before = rss_mib(proc.pid)
        httpx.post(url + '/v1/predict', files=[('files', blobs[0])], timeout=120)   # first request loads the model
        mem_loaded = rss_mib(proc.pid)
        levels = []
        for clients in (1, 4, 8):
            lat, errors, start = [], 0, time.perf_counter()
            def one(i):
                if time.perf_counter() - start > a.max_seconds: return None
                t = time.perf_counter()
                r = httpx.post(url + '/v1/predict', files=[('files', blobs[i % len(blobs)])], timeout=120)
                return (time.perf_counter() - t, r.status_code)
            with ThreadPoolExecutor(clients) as ex: out = [o for o in ex.map(one, range(a.requests)) if o]
            wall = time.perf_counter() - start
            lat = sorted(t for t, _ in out); errors = sum(s != 200 for _, s in out)
            row = dict(clients=clients, requests=len(out), errors=errors, p50_ms=round(1000 * lat[len(lat) // 2], 1),
                       p95_ms=round(1000 * lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1), throughput_per_s=round(len(out) / wall, 2))
            levels.append(row); print(row, flush=True)
        mem_after = rss_mib(proc.pid)
    finally:
        proc.terminate(); proc.wait(30)
    res = dict(bench='serve', date=dt.datetime.now().isoformat(timespec='seconds'), machine=platform.machine(), cpus=os.cpu_count(),
               command='python ' + ' '.join(sys.argv), model=det.name, check_image_in_process=direct, levels=levels,
               server_rss_mib=dict(started=round(mem_before), model_loaded=round(mem_loaded), after=round(mem_after)))
    print(json.dumps(res['server_rss_mib']))
    if a.json_out: Path(a.json_out).write_text(json.dumps(res, indent=2) + '\n')

if __name__ == '__main__': main()
