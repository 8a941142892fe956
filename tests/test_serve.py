"""`facefake-serve` as a user runs it: the real server on a free loopback port, talked to over HTTP with httpx.
Parity with `facefake-predict`, the token, every bad input's status (pixel budgets and chunked bodies included), a
broken model folder beside a good one, 8 clients posting 400 judgements, and three faults that must lose no
acknowledged row: two servers and a read-only reader on one feedback file, the same with `facefake-train --feedback`
reading the live file, and a server killed with SIGKILL in the middle of a load run. The page at `/` is driven in
headless Chromium when the system browser is there (as the app's browser test)."""
import io, os, signal, socket, sqlite3, subprocess, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import pytest
from PIL import Image
from facefake.core import data_root

httpx = pytest.importorskip('httpx')
sys.path.insert(0, str(Path(__file__).resolve().parent.parent/'bench'))
from serving import BIN, TOKEN, fault_run, launch as _launch, predict, reader_command, stop, wait_ready   # noqa: E402
SAMPLE = data_root()/'faces140k-sample'
pytestmark = pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"no {SAMPLE}: set FACEFAKE_DATA to the shared datasets")

def start(models, tmp, token=TOKEN, extra=()):
    "Start facefake-serve on tmp/feedback.sqlite; returns (process, base URL) once /v1/health answers."
    proc, url = _launch(models, tmp/'feedback.sqlite', tmp/'serve.log', token, extra)
    try: wait_ready(proc, url, tmp/'serve.log')
    except RuntimeError as e: pytest.fail(str(e))
    return proc, url

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
    m = io.BytesIO(); Image.new('RGB', (8_000, 8_000)).save(m, 'PNG'); mp64 = m.getvalue()   # 64 million pixels in ~190 KB
    dot = io.BytesIO(); Image.new('RGB', (1, 1), 'white').save(dot, 'PNG')
    auth = {'Authorization': f'Bearer {TOKEN}'}
    post = lambda files, **kw: httpx.post(server + '/v1/predict', files=files, timeout=60, **kw)
    cases = {
        'not an image': (400, lambda: post([('files', ('a.txt', b'hello', 'text/plain'))])),
        'truncated': (400, lambda: post([('files', ('cut.jpg', jpeg[:300], 'image/jpeg'))])),
        'zero bytes': (400, lambda: post([('files', ('empty.jpg', b'', 'image/jpeg'))])),
        'decompression bomb': (413, lambda: post([('files', ('bomb.png', b.getvalue(), 'image/png'))])),
        '16 x 64 MP': (413, lambda: post([('files', (f'{i}.png', mp64, 'image/png')) for i in range(16)])),
        'one pixel': (400, lambda: post([('files', ('dot.png', dot.getvalue(), 'image/png'))], params=dict(whole=True))),
        'no file': (422, lambda: httpx.post(server + '/v1/predict', timeout=60)),
        'huge file': (413, lambda: post([('files', ('big.jpg', jpeg + b'\0' * (9 * 2**20), 'image/jpeg'))])),
        'wrong field name': (422, lambda: post([('image', ('f.jpg', jpeg, 'image/jpeg'))])),
        'unknown model': (404, lambda: post([('files', ('f.jpg', jpeg, 'image/jpeg'))], params=dict(model='../tiny'))),
        'unknown prediction id': (404, lambda: httpx.post(server + '/v1/feedback', json=dict(prediction_id='none', agree=True), headers=auth)),
        'missing token': (401, lambda: httpx.get(server + '/v1/feedback')),
        'wrong token': (401, lambda: httpx.get(server + '/v1/feedback', headers={'Authorization': 'Bearer x'})),
        'token without Bearer': (401, lambda: httpx.get(server + '/v1/feedback', headers={'Authorization': TOKEN})),
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
    # a chunked body (no Content-Length) is counted as it arrives: 413 once past the limit, and not read further
    sent = 0
    def chunks():
        nonlocal sent
        yield b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        for _ in range(400):
            sent += 2**20; yield b'\0' * 2**20
    try: r = httpx.post(server + '/v1/predict', content=chunks(), headers={'Content-Type': 'multipart/form-data; boundary=x'}, timeout=60)
    except httpx.HTTPError: r = None   # the server may close the connection while the client is still sending
    assert r is None or r.status_code == 413, r.text[:300]
    assert sent < 200 * 2**20, f"the client sent {sent >> 20} MiB before the server stopped it"
    assert httpx.get(server + '/v1/health').status_code == 200   # still serving
    assert httpx.get(server + '/v1/feedback', headers={'Authorization': f'bearer {TOKEN}'}).status_code == 200   # the scheme in any case

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

def test_broken_model_is_listed_not_loaded(files, tmp_path):
    "A half-copied card and a card whose weights were replaced: both listed as unavailable with the reason; the good model serves."
    import shutil
    models = tmp_path/'models'
    shutil.copytree(files/'models'/'tiny', models/'tiny')
    (models/'half').mkdir(); (models/'half'/'card.json').write_text((files/'models'/'tiny'/'card.json').read_text()[:200])
    shutil.copytree(files/'models'/'tiny', models/'swapped'); (models/'swapped'/'model.safetensors').write_bytes(b'not the weights')
    proc, url = start(models, tmp_path)
    try:
        h = httpx.get(url + '/v1/health').json()
        assert h['status'] == 'degraded' and set(h['unavailable']) == {'half'} and 'JSON' in h['unavailable']['half'], h
        listed = {m['name']: m for m in httpx.get(url + '/v1/models').json()}
        assert listed['half']['available'] is False and listed['tiny']['available'] is True
        r = predict(url, face(0), model='swapped')   # its card is whole: it fails when a worker loads it, and is then listed
        assert r.status_code == 503 and 'SHA-256' in r.json()['detail'], r.text[:300]
        assert 'swapped' in httpx.get(url + '/v1/health').json()['unavailable']
        assert predict(url, face(0), model='half').status_code == 503
        ok = predict(url, face(0))   # the default: the first usable model
        assert ok.status_code == 200 and ok.json()['model'] == 'tiny'
        assert predict(url, face(1), model='tiny').status_code == 200
        # no path on the server's disk in any answer
        assert str(tmp_path) not in httpx.get(url + '/v1/models').text and str(SAMPLE) not in httpx.get(url + '/v1/models').text
    finally: stop(proc)

def test_full_queue_answers_503(files, tmp_path):
    "One worker and no queue: while a 16-image request is being checked, the next request is told to come back."
    proc, url = start(files/'models', tmp_path, extra=('--workers', '1', '--queue', '0'))
    try:
        slow = ThreadPoolExecutor(1).submit(predict, url, *(face(i) for i in range(16)), gradcam=True)
        time.sleep(0.5)
        r = predict(url, face(0))
        assert r.status_code == 503 and r.headers.get('retry-after') == '1' and 'busy' in r.json()['detail'], r.text[:300]
        assert slow.result().status_code == 200
        assert predict(url, face(0)).status_code == 200   # and it serves again once the worker is free
    finally: stop(proc)

def _no_loss(run:dict):
    "What every fault run must show: no error answers, every acknowledged judgement stored, an intact file."
    assert run['reader_rc'] == 0, run['reader_out']
    assert set(run['answers']) == {'200'}, run['answers']
    assert run['acknowledged'] > 100, f"only {run['acknowledged']} judgements acknowledged in {run['seconds']} s"
    assert run['per_prediction_match'] and run['stored'] == run['acknowledged'], run
    assert run['integrity'] == 'ok' and run['predictions_stored'] == 4, run

def test_two_servers_and_a_reader_lose_nothing(files, tmp_path):
    run = fault_run(files/'models', tmp_path, [face(10 + k) for k in range(4)], reader_command(tmp_path/'feedback.sqlite', 30), seconds=30)
    _no_loss(run)
    assert int(run['reader_out'].split()[-1]) > 10, run['reader_out']

def test_training_on_the_live_feedback_file_loses_nothing(files, tmp_path):
    "facefake-train --feedback reads the file while two servers write to it; its card records what it read."
    import json
    train = [str(BIN/'facefake-train'), str(SAMPLE), str(tmp_path/'retrained'), '--feedback', str(tmp_path/'feedback.sqlite'),
             '--uploads', str(tmp_path/'uploads'), '--limit', '20', '--size', '64']
    run = fault_run(files/'models', tmp_path, [face(10 + k) for k in range(4)], train, seconds=15)   # and until training ends
    _no_loss(run)
    fb = json.loads((tmp_path/'retrained'/'card.json').read_text())['training']['feedback']
    assert fb['file'] == 'feedback.sqlite' and len(fb['snapshot_sha256']) == 64 and fb['judgements'] > 0, (fb, run['reader_out'])
    assert fb['rows_added'] + fb['already_in_dataset'] == 4 and fb['without_upload'] == 0, fb   # the four judged uploads

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
        drv.find_element(By.ID, 'files').clear()   # no file: the API answers 422 with a list of field errors, shown as text
        drv.find_element(By.ID, 'check').click()
        status = wait.until(lambda d: (t := d.find_element(By.ID, 'status').text).startswith('Error') and t)
        assert status.startswith('Error 422') and 'Field required' in status and 'object' not in status, status
    finally: drv.quit()
