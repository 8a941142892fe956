"""`facefake-serve` as a user runs it: the real server on a free loopback port, talked to over HTTP with httpx.
Parity with `facefake-predict`, the token, every bad input's status, 8 clients posting 400 judgements, and a server
killed with SIGKILL in the middle of a load run that loses none of the judgements it acknowledged. The page at `/`
is driven in headless Chromium when the system browser is there (as the app's browser test)."""
import io, os, signal, socket, sqlite3, subprocess, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import pytest
from PIL import Image
from facefake.core import data_root

httpx = pytest.importorskip('httpx')
BIN = Path(sys.executable).parent
SAMPLE = data_root()/'faces140k-sample'
TOKEN = 'test-token-0123456789'
pytestmark = pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"no {SAMPLE}: set FACEFAKE_DATA to the shared datasets")

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def start(models, tmp, port=None, token=TOKEN, extra=()):
    "Start facefake-serve; returns (process, base URL) once /v1/health answers."
    port = port or free_port()
    env = {**os.environ, 'FACEFAKE_API_TOKEN': token} if token else {k: v for k, v in os.environ.items() if k != 'FACEFAKE_API_TOKEN'}
    log = open(tmp/f'serve-{port}.log', 'a')
    proc = subprocess.Popen([str(BIN/'facefake-serve'), str(models), '--port', str(port), '--feedback', str(tmp/'feedback.sqlite'), *extra],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f'http://127.0.0.1:{port}'
    for _ in range(300):
        if proc.poll() is not None: pytest.fail(f"facefake-serve exited with {proc.returncode}: {(tmp/f'serve-{port}.log').read_text()[-2000:]}")
        try:
            if httpx.get(url + '/v1/health', timeout=2).status_code == 200: return proc, url
        except httpx.HTTPError: time.sleep(0.2)
    proc.kill(); pytest.fail('facefake-serve did not answer within 60 s')

def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()

@pytest.fixture(scope='module')
def files(tmp_path_factory):
    "A small probe saved in a models folder, and a shared face."
    from facefake.splits import load_dataset
    from facefake.probe import fit_probe
    from facefake.detector import save_detector
    tmp = tmp_path_factory.mktemp('serve')
    det, _ = fit_probe(load_dataset(SAMPLE, limit=30), size=64, name='tiny')
    save_detector(det, tmp/'models'/'tiny')
    return tmp

@pytest.fixture(scope='module')
def server(files):
    proc, url = start(files/'models', files, extra=('--keep-uploads', str(files/'uploads')))
    yield url
    stop(proc)

def face(i=0) -> Path: return sorted((SAMPLE/'fake').glob('*.jpg'))[i]

def predict(url, *paths, **params):
    return httpx.post(url + '/v1/predict', params=params, files=[('files', (p.name, p.read_bytes(), 'image/jpeg')) for p in paths], timeout=60)

def test_predict_matches_facefake_predict(server, files):
    r = predict(server, face(0), face(1))
    assert r.status_code == 200, r.text
    got = {x['name']: x for x in r.json()['results']}
    out = subprocess.run([str(BIN/'facefake-predict'), str(files/'models'/'tiny'), str(face(0)), str(face(1))], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    for line in out.stdout.splitlines():
        path, _, p_fake, verdict = line.split('\t')
        x = got[Path(path).name]
        assert abs(x['p_fake'] - float(p_fake)) < 1e-4 and x['verdict'] == verdict
        assert len(x['prediction_id']) == 32 and x['calibration'].startswith('Platt')
    assert {m['name'] for m in httpx.get(server + '/v1/models').json()} == {'tiny'}
    assert httpx.get(server + '/v1/models/tiny').json()['classes'] == ['real', 'fake']
    assert httpx.get(server + '/docs').status_code == 200 and 'openapi' in httpx.get(server + '/openapi.json').text
    assert len(list((files/'uploads').rglob('*.jpg'))) == 2   # kept, named by content

def test_feedback_needs_the_token(server):
    pid = predict(server, face(2)).json()['results'][0]['prediction_id']
    body = dict(prediction_id=pid, agree=True)
    assert httpx.post(server + '/v1/feedback', json=body).status_code == 401
    assert httpx.post(server + '/v1/feedback', json=body, headers={'Authorization': 'Bearer nope'}).status_code == 401
    r = httpx.post(server + '/v1/feedback', json=body, headers={'Authorization': f'Bearer {TOKEN}'})
    assert r.status_code == 200 and r.json()['prediction_id'] == pid
    listed = httpx.get(server + '/v1/feedback', headers={'Authorization': f'Bearer {TOKEN}'}).json()
    assert listed[0]['prediction_id'] == pid

def test_no_token_means_feedback_off(files, tmp_path):
    proc, url = start(files/'models', tmp_path, token=None)
    try:
        r = httpx.post(url + '/v1/feedback', json=dict(prediction_id='x', agree=True), headers={'Authorization': f'Bearer {TOKEN}'})
        assert r.status_code == 403 and 'no token' in r.json()['detail']
        assert httpx.get(url + '/v1/health').json()['feedback'] is False
    finally: stop(proc)

def test_bad_input_gets_its_status(server):
    jpeg = face(0).read_bytes()
    b = io.BytesIO(); Image.new('1', (10_000, 10_000)).save(b, 'PNG')
    auth = {'Authorization': f'Bearer {TOKEN}'}
    post = lambda files, **kw: httpx.post(server + '/v1/predict', files=files, timeout=60, **kw)
    cases = {
        'not an image': (400, lambda: post([('files', ('a.txt', b'hello', 'text/plain'))])),
        'truncated': (400, lambda: post([('files', ('cut.jpg', jpeg[:300], 'image/jpeg'))])),
        'zero bytes': (400, lambda: post([('files', ('empty.jpg', b'', 'image/jpeg'))])),
        'decompression bomb': (400, lambda: post([('files', ('bomb.png', b.getvalue(), 'image/png'))])),
        'huge file': (413, lambda: post([('files', ('big.jpg', jpeg + b'\0' * (9 * 2**20), 'image/jpeg'))])),
        'wrong field name': (422, lambda: post([('image', ('f.jpg', jpeg, 'image/jpeg'))])),
        'unknown model': (404, lambda: post([('files', ('f.jpg', jpeg, 'image/jpeg'))], params=dict(model='../tiny'))),
        'unknown prediction id': (404, lambda: httpx.post(server + '/v1/feedback', json=dict(prediction_id='none', agree=True), headers=auth)),
        'missing token': (401, lambda: httpx.get(server + '/v1/feedback')),
        'wrong token': (401, lambda: httpx.get(server + '/v1/feedback', headers={'Authorization': 'Bearer x'})),
    }
    for name, (status, send) in cases.items():
        r = send()
        assert r.status_code == status, (name, r.status_code, r.text[:300])
        assert 'detail' in r.json(), name
    # a body declared too large is refused from its headers, before a byte of it is read
    host, port = server.removeprefix('http://').split(':')
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 500000000\r\n\r\n')
        head = s.recv(4096).decode()
    assert head.startswith('HTTP/1.1 413'), head[:200]
    assert httpx.get(server + '/v1/health').status_code == 200   # still serving

def test_concurrent_feedback_all_lands(server, files):
    pids = [x['prediction_id'] for x in predict(server, *(face(i) for i in range(8))).json()['results']]
    auth = {'Authorization': f'Bearer {TOKEN}'}
    def client(k):
        with httpx.Client(timeout=60) as c:
            return [c.post(server + '/v1/feedback', json=dict(prediction_id=pids[k], label='fake' if j % 2 else 'real'), headers=auth).status_code
                    for j in range(50)]
    with ThreadPoolExecutor(8) as ex: codes = [s for part in ex.map(client, range(8)) for s in part]
    assert codes == [200] * 400
    with sqlite3.connect(files/'feedback.sqlite') as con:
        n = con.execute(f"SELECT COUNT(*) FROM feedback WHERE prediction_id IN ({','.join('?' * 8)})", pids).fetchone()[0]
    assert n == 400

def test_sigkill_loses_no_acknowledged_feedback(files, tmp_path):
    proc, url = start(files/'models', tmp_path)
    pid = predict(url, face(3)).json()['results'][0]['prediction_id']
    acked, stop_flag = [], threading.Event()
    def client(k):
        with httpx.Client(timeout=10) as c:
            j = 0
            while not stop_flag.is_set():
                label = f"{'real' if j % 2 else 'fake'}"
                try: r = c.post(url + '/v1/feedback', json=dict(prediction_id=pid, label=label), headers={'Authorization': f'Bearer {TOKEN}'})
                except httpx.HTTPError: return
                if r.status_code == 200: acked.append(r.json()['time'] + '|' + str(k) + '|' + str(j))
                j += 1
    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads: t.start()
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGKILL); proc.wait()
    stop_flag.set()
    for t in threads: t.join()
    n_acked = len(acked)
    assert n_acked > 10, f"only {n_acked} judgements were acknowledged before the kill"
    proc, url = start(files/'models', tmp_path)   # restarts cleanly on the same file
    try:
        with sqlite3.connect(tmp_path/'feedback.sqlite') as con:
            n = con.execute('SELECT COUNT(*) FROM feedback WHERE prediction_id = ?', (pid,)).fetchone()[0]
        assert n >= n_acked, f"{n_acked} acknowledged, {n} in the file after the restart"
        assert httpx.post(url + '/v1/feedback', json=dict(prediction_id=pid, agree=True), headers={'Authorization': f'Bearer {TOKEN}'}).status_code == 200
    finally: stop(proc)

CHROMIUM, CHROMEDRIVER = Path('/usr/bin/chromium'), Path('/usr/bin/chromedriver')

@pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason='no system Chromium (apt-get install chromium chromium-driver)')
def test_page_calls_the_api(server, files):
    pytest.importorskip('selenium')
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    opts = webdriver.ChromeOptions(); opts.binary_location = str(CHROMIUM)
    for a in ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', f"--user-data-dir={files/'chromium-serve'}"]: opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try:
        drv.get(server + '/')
        wait = WebDriverWait(drv, 60, poll_frequency=0.3)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#model option'))
        drv.find_element(By.ID, 'files').send_keys(str(face(0)))
        drv.find_element(By.ID, 'check').click()
        card = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#results .card'))[0]
        assert face(0).name in card.text and ('fake' in card.text or 'real' in card.text)
        assert wait.until(lambda d: d.execute_script("const i = document.querySelector('#results img'); return i && i.complete && i.naturalWidth > 50"))
    finally: drv.quit()
