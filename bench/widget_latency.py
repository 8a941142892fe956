"""How long the face checker makes people wait, on this machine.

1. Latency per uploaded image, from the file's bytes to the verdict, through the same `check_image` the widget and
   `facefake-predict` use: median (and 90th percentile) over --n shared images (half StyleGAN, half FFHQ), with and
   without Grad-CAM, plus the face search alone. The first image after loading a detector is timed on its own (one-off
   start-up costs of the libraries), then excluded. Without --model, untrained MobileNetV2 detectors at --sizes are timed
   (weights do not change the time; the architecture and input size do).
2. `facefake-app` start-up: launch -> server listening; launch -> first page served (Voila starts a kernel and runs the
   app notebook: imports, detector loading); and, when Debian's Chromium is installed, launch -> upload button visible in
   a headless browser that asks for the page as soon as the server listens. Medians over --runs launches.

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch .venv/bin/python bench/widget_latency.py [--model DIR ...]

The machine's load average is printed with the figures: other work on the same cores slows every figure here, and
torch's default of one thread per core stalls badly when another process holds a core (--threads 1 2 shows both).
"""
import argparse, io, json, os, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.error, urllib.request, warnings
from pathlib import Path
warnings.filterwarnings('ignore')
import pandas as pd, torch
from facefake.core import conv_layout, data_root
from facefake.faces import crop_one
from facefake.detector import Detector, build_model, load_detector, make_card, save_detector
from facefake.widget import check_image

BIN = Path(sys.executable).parent
CHROMIUM, CHROMEDRIVER = Path('/usr/bin/chromium'), Path('/usr/bin/chromedriver')

def shared_images(n:int) -> list:
    "`(name, bytes)` of n shared images, half fake and half real, read into memory as an upload would be."
    root = data_root()/'faces140k-sample'
    if not root.is_dir(): raise SystemExit(f"no {root}: set FACEFAKE_DATA to the shared datasets")
    paths = sorted((root/'fake').glob('*.jpg'))[:n - n // 2] + sorted((root/'real').glob('*.jpg'))[:n // 2]
    return [(p.name, p.read_bytes()) for p in paths]

def untrained(arch:str, size:int) -> Detector:
    card = make_card(arch, size, name=f"{arch}-{size}px (untrained, for timing)", framing='face')   # scored as uploads are: the face cut out
    model = build_model(arch, 2, pretrained=False).to(memory_format=conv_layout('cpu'))   # the layout load_detector gives on the CPU
    return Detector(model, card)

def latency(det:Detector, imgs:list) -> dict:
    "Median and 90th percentile seconds per image: whole check with and without Grad-CAM, and the face search alone."
    t = time.perf_counter(); check_image(det, imgs[0][1], imgs[0][0]); first = time.perf_counter() - t
    for name, data in imgs[:2]: check_image(det, data, name, gradcam=False)
    rows = []
    for i, (name, data) in enumerate(imgs):
        row = {}
        for cam in ((True, False) if i % 2 else (False, True)):      # alternate the order: drifting load hits both alike
            t = time.perf_counter(); res = check_image(det, data, name, gradcam=cam)
            row['gradcam' if cam else 'no_gradcam'] = time.perf_counter() - t
        t = time.perf_counter(); crop_one(io.BytesIO(data)); row['face_search'] = time.perf_counter() - t
        row['ok'] = res.ok
        rows.append(row)
    df = pd.DataFrame(rows)
    out = dict(detector=det.name, n=len(df), faces_found=int(df.ok.sum()), first_image_s=round(first, 3))
    for c in ['no_gradcam', 'gradcam', 'face_search']:
        out[f'{c}_median_ms'] = round(1000 * df[c].median(), 1)
        out[f'{c}_p90_ms'] = round(1000 * df[c].quantile(0.9), 1)
    return out

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _answers(url:str) -> bool:
    try: urllib.request.urlopen(url, timeout=5); return True
    except urllib.error.HTTPError: return True
    except OSError: return False

def _browser(profile:Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    o = webdriver.ChromeOptions(); o.binary_location = str(CHROMIUM)
    for a in ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
              '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', f'--user-data-dir={profile}']: o.add_argument(a)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=o)

def app_startup(model:Path, tmp:Path, browser:bool, timeout:float=180) -> dict:
    "One launch of facefake-app: seconds to listening, and to the page served (or, with `browser`, to the upload button shown)."
    port, res = free_port(), {}
    drv = _browser(tmp/f'profile-{time.time_ns()}') if browser else None    # started first: its own start-up is not the app's
    log = open(tmp/'app.log', 'a')
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(BIN/'facefake-app'), '--model', str(model), '--port', str(port), '--feedback', str(tmp/'fb.sqlite')],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f'http://127.0.0.1:{port}/'
    try:
        while not _answers(url + 'facefake-health-check'):
            if proc.poll() is not None or time.perf_counter() - t0 > timeout: raise RuntimeError(f"app did not start; see {tmp/'app.log'}")
            time.sleep(0.05)
        res['listening_s'] = time.perf_counter() - t0
        if drv is None:
            with urllib.request.urlopen(url, timeout=timeout) as r: body = r.read()
            assert b'widget-view' in body, 'the page holds no widget'
            res['page_s'] = time.perf_counter() - t0
        else:
            from selenium.webdriver.common.by import By
            from selenium.webdriver.support.ui import WebDriverWait
            drv.get(url)
            WebDriverWait(drv, timeout, poll_frequency=0.05).until(lambda d: d.find_elements(By.CSS_SELECTOR, '.facefake-checker .widget-upload'))
            res['upload_visible_s'] = time.perf_counter() - t0
    finally:
        proc.send_signal(signal.SIGTERM)
        try: proc.wait(30)
        except subprocess.TimeoutExpired: os.killpg(proc.pid, signal.SIGKILL)
        if drv is not None: drv.quit()
        log.close()
    return res

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', nargs='*', default=[], help='saved detector folders (default: untrained MobileNetV2 at --sizes)')
    ap.add_argument('--arch', default='mobilenet_v2')
    ap.add_argument('--sizes', type=int, nargs='*', default=[128, 256])
    ap.add_argument('--n', type=int, default=50, help='images for the latency medians')
    ap.add_argument('--threads', type=int, nargs='*', default=None,
                    help='torch threads to time with, e.g. 1 2 (default: torch\'s own choice); the app keeps torch\'s default')
    ap.add_argument('--runs', type=int, default=3, help='app launches per start-up figure (0: skip the app)')
    ap.add_argument('--json-out', default=None)
    a = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads on {os.cpu_count()} CPUs; load average before: {os.getloadavg()}", flush=True)
    imgs = shared_images(a.n)
    dets = [load_detector(m) for m in a.model] or [untrained(a.arch, s) for s in a.sizes]
    rows = []
    for n_threads in a.threads or [torch.get_num_threads()]:
        torch.set_num_threads(n_threads)
        rows += [{'threads': n_threads, **latency(d, imgs)} for d in dets]
    lat = pd.DataFrame(rows).set_index(['detector', 'threads'])
    print('\nLatency per uploaded image, bytes -> verdict (check_image), ms:')
    print(lat.to_string(), flush=True)
    res = dict(load_before=os.getloadavg(), latency=lat.reset_index().to_dict(orient='records'))
    if a.runs:
        tmp = Path(tempfile.mkdtemp(prefix='facefake-bench-'))
        try:
            model = Path(a.model[0]) if a.model else save_detector(dets[0], tmp/'detector')
            runs = [app_startup(model, tmp, browser=False) for _ in range(a.runs)]
            have_browser = CHROMIUM.exists() and CHROMEDRIVER.exists()
            if have_browser: runs += [app_startup(model, tmp, browser=True) for _ in range(a.runs)]
            st = pd.DataFrame(runs)
            print(f"\nfacefake-app start-up with {dets[0].name if not a.model else a.model[0]}, seconds from launch "
                  f"(median of {a.runs} launches each; {'with' if have_browser else 'no Chromium: without'} the browser figure):")
            print(st.median().round(2).to_string())
            print('all runs:\n' + st.round(2).to_string(), flush=True)
            res['app_startup_median_s'] = st.median().round(2).to_dict()
            res['app_startup_runs'] = st.round(2).to_dict(orient='records')
        finally: shutil.rmtree(tmp, ignore_errors=True)
    res['load_after'] = os.getloadavg()
    print(f"\nload average after: {res['load_after']}")
    if a.json_out:
        with open(a.json_out, 'x') as f: json.dump(res, f, indent=2)

if __name__ == '__main__': main()
