"""`facefake-app` in a real browser: the app on loopback, Debian's headless Chromium driven by selenium, a face and a
made-up picture uploaded; the verdict, the heatmap and the no-face message must appear, and Agree must store a row.

Needs the system browser (`apt-get install chromium chromium-driver`), selenium and voila (`pip install -e '.[dev]'`).
Skipped, with the reason, where one is missing. The screenshot goes to pytest's tmp folder (its path is printed) and,
when `FACEFAKE_SCREENSHOTS` names a folder, there too."""
import importlib.util, os, shutil, signal, socket, sqlite3, subprocess, sys, time, urllib.error, urllib.request
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from facefake.core import data_root

BIN = Path(sys.executable).parent
CHROMIUM, CHROMEDRIVER = Path('/usr/bin/chromium'), Path('/usr/bin/chromedriver')
SAMPLE = data_root()/'faces140k-sample'
BROWSER_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--window-size=1280,1500']

INTERCEPT_FILE_DIALOG = """
const click = HTMLInputElement.prototype.click;
HTMLInputElement.prototype.click = function () {
  if (this.type !== 'file') return click.call(this);
  this.id = 'facefake-file-input';
  document.body.appendChild(this);
};"""

def _missing() -> list:
    miss = [f"{p} (apt-get install chromium chromium-driver)" for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    return miss + [f"the {m} package (pip install -e '.[dev]')" for m in ('selenium', 'voila') if importlib.util.find_spec(m) is None]

pytestmark = [pytest.mark.skipif(bool(_missing()), reason=f"browser test skipped: no {', '.join(_missing())}"),
              pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"browser test skipped: no {SAMPLE}; set FACEFAKE_DATA to the shared datasets")]

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def wait_listening(url:str, proc, timeout:float) -> float:
    "Seconds until the server at `url` answers HTTP at all (a 404 for a made-up path: no kernel is started); fails early if `proc` exits."
    start = time.time()
    while time.time() - start < timeout:
        if proc.poll() is not None: pytest.fail(f"facefake-app exited with {proc.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url + 'facefake-health-check', timeout=10): return time.time() - start
        except urllib.error.HTTPError: return time.time() - start
        except OSError: time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {timeout} s")

@pytest.fixture(scope='module')
def files(tmp_path_factory):
    "A small detector saved to disk, a shared face on which it finds a face, and a made-up picture without one."
    from facefake.splits import load_dataset
    from facefake.detector import save_detector
    from facefake.train import train_detector
    from facefake.widget import check_image
    tmp = tmp_path_factory.mktemp('app')
    df = load_dataset(SAMPLE, limit=40)
    det, _ = train_detector(df, arch='simple_cnn', pretrained=False, size=64, epochs=1)   # seconds on a CPU
    save_detector(det, tmp/'detector')
    face = next(p for p in df[df.split == 'test'].path if check_image(det, p, gradcam=False).ok)
    shutil.copy(face, tmp/'face.jpg')
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (180, 240, 3), dtype=np.uint8)).save(tmp/'made_up.png')
    return tmp

@pytest.fixture(scope='module')
def app(files):
    "`facefake-app` on a free loopback port; stopped with SIGTERM afterwards, as a service manager would."
    assert (BIN/'facefake-app').exists(), "facefake-app is not installed: it belongs in [project.scripts]; pip install -e ."
    port = free_port()
    log = open(files/'app.log', 'w')
    proc = subprocess.Popen([str(BIN/'facefake-app'), '--model', str(files/'detector'), '--port', str(port),
                             '--feedback', str(files/'feedback.sqlite')], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        secs = wait_listening(url, proc, timeout=60)
        print(f"app listening {secs:.1f} s after launch")
        yield url, proc
    finally:
        if proc.poll() is None: proc.send_signal(signal.SIGTERM)
        try: rc = proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL); rc = None
        log.close()
        print((files/'app.log').read_text()[-3000:])
        assert rc == 0, f"facefake-app did not stop cleanly on SIGTERM (exit {rc})"
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(('127.0.0.1', port))        # the port is free again: Voila is gone

@pytest.fixture(scope='module')
def browser(files):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for a in BROWSER_FLAGS + [f"--user-data-dir={files/'chromium-profile'}"]: opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try: yield drv
    finally: drv.quit()

def text_of(driver, css:str, *needles):
    "The text of the first element matching `css` that contains all `needles`, else False (for `WebDriverWait.until`)."
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    for e in driver.find_elements(By.CSS_SELECTOR, css):
        try: t = e.text
        except StaleElementReferenceException: return False     # the widget re-rendered: look again
        if all(n in t for n in needles): return t
    return False

def click_button(driver, css:str, label:str) -> bool:
    "Click the first button labelled `label` inside an element matching `css`; False if not (yet) there."
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    try:
        b = next((b for b in driver.find_elements(By.CSS_SELECTOR, f'{css} button') if b.text.strip() == label), None)
        if b is None: return False
        b.click(); return True
    except StaleElementReferenceException: return False

def test_upload_shows_verdict_and_heatmap(app, browser, files):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    url, proc = app
    start = time.time()
    browser.get(url)
    wait = WebDriverWait(browser, 90, poll_frequency=0.3)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '.facefake-checker .widget-upload'))
    print(f"page with its upload button shown {time.time() - start:.1f} s after it was requested")
    # ipywidgets 8 keeps the upload's <input type=file> out of the page and clicks it to open the system file dialog,
    # which a headless browser cannot fill in; put the input into the page instead of opening the dialog, then hand it
    # the files. Everything after that (reading the files, syncing them to the kernel) is the widget's own code.
    browser.execute_script(INTERCEPT_FILE_DIALOG)
    browser.find_element(By.CSS_SELECTOR, '.facefake-checker .widget-upload').click()
    picker = wait.until(lambda d: d.find_elements(By.ID, 'facefake-file-input'))[0]
    picker.send_keys(f"{files/'face.jpg'}\n{files/'made_up.png'}")
    wait.until(lambda d: text_of(d, '.facefake-checker', 'Checked 2 uploaded'))
    verdict = wait.until(lambda d: text_of(d, '.facefake-verdict', 'face.jpg', 'p_fake'))
    assert ('FAKE' in verdict) or ('REAL' in verdict), verdict
    wait.until(lambda d: d.execute_script(
        "const i = document.querySelector('img.facefake-heatmap'); return i && i.complete && i.naturalWidth > 100 && i.width > 100"))
    assert 'no face' in wait.until(lambda d: text_of(d, '.facefake-message', 'made_up.png'))
    # agree with the verdict: a row lands in the feedback file, and the table on the page shows it
    wait.until(lambda d: click_button(d, '.facefake-card', 'Agree'))
    wait.until(lambda d: text_of(d, 'table.facefake-feedback', 'face.jpg'))
    shot = files/'facefake-app.png'
    browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
    if os.environ.get('FACEFAKE_SCREENSHOTS'):
        out = Path(os.environ['FACEFAKE_SCREENSHOTS']); out.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, out/shot.name); print(f"screenshot copied to {out/shot.name}")
    assert shot.stat().st_size > 20_000
    with sqlite3.connect(files/'feedback.sqlite') as con:
        rows = con.execute('SELECT file_name, agree FROM feedback').fetchall()
    assert rows == [('face.jpg', 1)], rows
    assert proc.poll() is None
