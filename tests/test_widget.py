"""The face checker without a browser: uploads simulated the way ipywidgets 8 delivers them, buttons clicked from
Python, the feedback file, and `facefake-predict` / `facefake-app` run as separate processes, as a user runs them."""
import datetime as dt, importlib.util, io, json, logging, socket, sqlite3, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd
import pytest
from PIL import Image
from facefake.core import data_root, sha256_file
from facefake.faces import crop_one
from facefake.detector import Detector, build_model, load_detector, save_detector
from facefake.widget import FaceChecker, Feedback, FEEDBACK_COLUMNS, check_image
import facefake.widget as widget_mod

BIN = Path(sys.executable).parent
SAMPLE = data_root()/'faces140k-sample'
needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"no {SAMPLE}: set FACEFAKE_DATA to the shared datasets")

def run(cmd, *args, timeout=300):
    return subprocess.run([str(BIN/cmd), *map(str, args)], capture_output=True, text=True, timeout=timeout)

def png_bytes(img:Image.Image, fmt='PNG') -> bytes:
    buf = io.BytesIO(); img.save(buf, fmt); return buf.getvalue()

def as_upload(name:str, data:bytes, type_='image/jpeg') -> dict:
    "One file as ipywidgets 8's `FileUpload.value` holds it (after its deserializer: a UTC datetime, a memoryview)."
    return dict(name=name, type=type_, size=len(data), content=memoryview(data), last_modified=dt.datetime.now(dt.timezone.utc))

@pytest.fixture(scope='module')
def det():
    "A tiny detector: trained for one epoch on 40 shared faces per class, or (without the shared set) untrained."
    if SAMPLE.is_dir():
        from facefake.splits import load_dataset
        from facefake.train import train_detector
        return train_detector(load_dataset(SAMPLE, limit=40), arch='simple_cnn', pretrained=False, size=64, epochs=1)[0]
    card = dict(format='facefake-detector', version=1, name='untrained-simple_cnn', arch='simple_cnn', n_out=2,
                classes=['real', 'fake'], size=64, crop=None, threshold=0.5)
    return Detector(build_model('simple_cnn', 2, pretrained=False), card)

@pytest.fixture(scope='module')
def det_dir(det, tmp_path_factory):
    return save_detector(det, tmp_path_factory.mktemp('model')/'detector')

@pytest.fixture(scope='module')
def made_up():
    "Made-up pictures: noise without a face, a corrupt JPEG, a text file, a 16-bit greyscale PNG."
    rng = np.random.default_rng(0)
    noise = png_bytes(Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)))
    jpeg = png_bytes(Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)), 'JPEG')
    grey16 = png_bytes(Image.fromarray((rng.random((80, 80)) * 65535).astype(np.uint16)))
    return {'noise.png': noise, 'broken.jpg': jpeg[:len(jpeg) // 3], 'notes.jpg': b'not an image at all', 'grey16.png': grey16}

@pytest.fixture(scope='module')
def faces(det):
    "A shared StyleGAN face and FFHQ photo on which the face detector finds one face."
    if not SAMPLE.is_dir(): pytest.skip(f"no {SAMPLE}: set FACEFAKE_DATA to the shared datasets")
    pick = lambda label: next(p for p in sorted((SAMPLE/label).glob('*.jpg'))[:20] if check_image(det, p, gradcam=False).ok)
    return pick('fake'), pick('real')

def test_upload_many_at_once(det, made_up, faces, tmp_path):
    c = FaceChecker(det, feedback=Feedback(tmp_path/'fb.sqlite'))
    up = [as_upload(faces[0].name, faces[0].read_bytes())] + [as_upload(k, v) for k, v in made_up.items()]
    c.upload.value = tuple(up)
    test = {r.name: r for r in c.results}
    assert [r.status for r in c.results] == ['ok', 'no face', 'unreadable', 'unreadable', 'no face']
    ok = test[faces[0].name]
    assert ok.face and 0 <= ok.p_fake <= 1 and ok.verdict == ('fake' if ok.p_fake >= det.threshold else 'real')
    assert ok.sha256 == sha256_file(faces[0]) and ok.model == det.name and ok.overlay is not None
    for name in ['broken.jpg', 'notes.jpg']: assert name in test[name].message
    assert c.upload.value == () and len(c.cards.children) == 5 and c.errors == []
    assert c.cards.children[-1].result is ok                            # newest card on top
    assert 'Checked 5 uploaded' in c.status.value
    assert not (tmp_path/'fb.sqlite').exists()                           # nothing written before a judgement

def test_same_file_twice_and_limits(det, faces, tmp_path):
    c = FaceChecker(det, feedback=Feedback(tmp_path/'fb.sqlite'), max_bytes=5 * 1024, max_files=2)
    data = faces[0].read_bytes()
    assert len(data) > 5 * 1024
    c.upload.value = (as_upload('big.jpg', data),)
    c.upload.value = (as_upload('big.jpg', data),)                      # the same file again is checked again
    assert [r.status for r in c.results] == ['too large', 'too large']
    assert 'big.jpg' in c.results[0].message and '5 KiB limit' in c.results[0].message
    c.upload.value = tuple(as_upload(f'{i}.jpg', b'x') for i in range(3))
    assert len(c.results) == 4 and 'only the first 2 of 3' in c.status.value

def test_agree_disagree_store_feedback(det, faces, tmp_path):
    fb = Feedback(tmp_path/'user'/'feedback.sqlite')
    c = FaceChecker(det, feedback=fb)
    c.upload.value = tuple(as_upload(p.name, p.read_bytes()) for p in faces)
    fake_card, real_card = c.cards.children[1], c.cards.children[0]
    fake_card.agree.click()
    real_card.disagree.click()
    assert fake_card.agree.disabled and fake_card.disagree.disabled and 'Saved' in fake_card.saved.value
    t = fb.table()
    assert list(t.columns) == list(FEEDBACK_COLUMNS) and len(t) == 2
    assert t.file_name.tolist() == [faces[1].name, faces[0].name]       # newest first
    assert t.agree.tolist() == [0, 1]
    r = real_card.result
    assert t.user_label[0] == ('real' if r.verdict == 'fake' else 'fake') and t.predicted[0] == r.verdict
    assert t.file_sha256[1] == sha256_file(faces[0]) and t.model[0] == det.name
    assert dt.datetime.fromisoformat(t.time[0]).tzinfo is not None
    with sqlite3.connect(fb.path) as con: assert con.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
    assert 'facefake-feedback' in c.table.value and '2 judgements' in c.table.value
    again = FaceChecker(det, feedback=Feedback(fb.path))                 # a new session appends, never replaces
    again.upload.value = (as_upload(faces[0].name, faces[0].read_bytes()),)
    again.cards.children[0].agree.click()
    assert len(Feedback(fb.path)) == 3

def test_several_faces_and_whole_image(det, faces, made_up, tmp_path):
    pair = Image.new('RGB', (512, 256))
    for i, p in enumerate(faces): pair.paste(Image.open(p).resize((256, 256)), (256 * i, 0))
    c = FaceChecker(det, feedback=Feedback(tmp_path/'fb.sqlite'))
    c.upload.value = (as_upload('pair.jpg', png_bytes(pair, 'JPEG')),)
    res = c.results[-1]
    assert res.status == 'several faces' and 'pair.jpg' in res.message and res.p_fake is None
    c.cards.children[0].whole.click()                                    # the card's "Check the whole image" button
    assert (c.results[-1].status, c.results[-1].face) == ('ok', False)
    c.whole.value = True                                                 # the checkbox does it for every upload
    c.upload.value = (as_upload('noise.png', made_up['noise.png']),)
    assert (c.results[-1].status, c.results[-1].face) == ('ok', False)
    assert 'whole image' in c.results[-1].message

def test_folder_pick(det, faces, made_up, tmp_path):
    pics = tmp_path/'pics'; pics.mkdir()
    for p in faces: (pics/p.name).write_bytes(p.read_bytes())
    (pics/'broken.jpg').write_bytes(made_up['broken.jpg']); (pics/'readme.txt').write_text('ignored')
    c = FaceChecker(det, feedback=Feedback(tmp_path/'fb.sqlite'))
    c.folder.value = str(pics); c.folder_button.click()
    assert sorted(r.status for r in c.results) == ['ok', 'ok', 'unreadable']
    c.folder.value = str(tmp_path/'nowhere'); c.folder_button.click()
    assert 'no such folder' in c.errors[-1] and 'nowhere' in c.out.outputs[-1]['text']

def test_callbacks_never_raise(det, faces, tmp_path, monkeypatch, caplog):
    notes = tmp_path/'notes.sqlite'; notes.write_text('my notes')
    c = FaceChecker(det, feedback=Feedback(notes))                       # its table cannot be read: a message, no error
    assert 'not a SQLite database' in c.errors[-1]
    c.upload.value = (as_upload(faces[0].name, faces[0].read_bytes()),)
    with caplog.at_level(logging.ERROR, logger='facefake.widget'): c.cards.children[0].agree.click()
    assert 'left untouched' in c.errors[-1] and 'left untouched' in c.out.outputs[-1]['text']
    assert any('failed' in r.getMessage() for r in caplog.records)
    assert notes.read_text() == 'my notes'
    def boom(*a, **k): raise RuntimeError('model exploded')
    monkeypatch.setattr(widget_mod, 'check_image', boom)
    c.upload.value = (as_upload('x.jpg', b'x'),)                          # an unexpected error inside a check
    assert 'model exploded' in c.errors[-1] and c.upload.value == ()

def test_check_image_is_the_shared_path(det, faces):
    r = check_image(det, faces[0])
    assert det.framing['recipe'] == 'face' and r.framing == 'face'
    assert abs(r.p_fake - float(det.p_fake([crop_one(faces[0])[0]], framed=True)[0])) < 1e-5   # the card's framing: the face crop
    assert abs(r.p_fake - float(det.p_fake([faces[0]])[0])) < 1e-5                             # which p_fake applies itself
    assert abs(check_image(det, faces[0], gradcam=False).p_fake - r.p_fake) < 1e-5
    whole = check_image(det, faces[0], crop_face=False)
    assert whole.ok and not whole.face and abs(whole.p_fake - float(det.p_fake([faces[0]], framed=True)[0])) < 1e-5
    assert check_image(det, faces[0].parent/'no-such.jpg').status == 'unreadable'

def test_feedback_refuses_foreign_files(tmp_path, det, faces):
    (tmp_path/'folder.sqlite').mkdir()
    with pytest.raises(ValueError, match='folder'): Feedback(tmp_path/'folder.sqlite').add(check_image(det, faces[0]), 'fake')
    other = tmp_path/'other.sqlite'
    with sqlite3.connect(other) as con: con.execute('CREATE TABLE feedback (x TEXT)')
    with pytest.raises(ValueError, match='without columns'): Feedback(other).add(check_image(det, faces[0]), 'fake')
    with pytest.raises(ValueError, match='no verdict'): Feedback(tmp_path/'f.sqlite').add(check_image(det, b'junk', 'j.jpg'), 'fake')

def test_feedback_lives_in_the_users_state_folder(monkeypatch, tmp_path):
    "The default feedback file is per user (platformdirs), never in the data folder; $FACEFAKE_FEEDBACK overrides it."
    import platformdirs
    from facefake.widget import FEEDBACK_ENV, feedback_home
    monkeypatch.delenv(FEEDBACK_ENV, raising=False)
    assert feedback_home() == Path(platformdirs.user_state_dir('facefake', appauthor=False))/'feedback.sqlite'
    assert data_root().resolve() not in feedback_home().resolve().parents and Feedback().path == feedback_home()
    monkeypatch.setenv(FEEDBACK_ENV, str(tmp_path/'mine.sqlite'))
    assert Feedback().path == tmp_path/'mine.sqlite'

def test_one_connection_per_process_never_reopened(det, faces, tmp_path):
    "Many writes from threads share the process's one connection; a read-only reader in the same process sees them all."
    from concurrent.futures import ThreadPoolExecutor
    from facefake.widget import _OPEN
    fb, r = Feedback(tmp_path/'fb.sqlite'), check_image(det, faces[0], gradcam=False)
    with ThreadPoolExecutor(8) as ex: list(ex.map(lambda i: fb.add(r, 'fake' if i % 2 else 'real'), range(200)))
    assert len(Feedback(fb.path, readonly=True)) == 200
    assert sum(1 for k in _OPEN if k[1] == str(fb.path.resolve())) == 2   # one read-write, one read-only, kept open
    with sqlite3.connect(fb.path) as con: assert con.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'

# ---- facefake-predict, as a separate process

def test_predict_cli(det_dir, faces, made_up, tmp_path):
    junk = tmp_path/'in'; junk.mkdir()
    for k, v in made_up.items(): (junk/k).write_bytes(v)
    out_json, out_csv = tmp_path/'p.json', tmp_path/'p.csv'
    r = run('facefake-predict', det_dir, *faces, junk, '--json-out', out_json, '--csv-out', out_csv)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2 + len(made_up)                                # one line per image, folders expanded
    fields = [l.split('\t') for l in lines]
    assert all(len(f) == 4 for f in fields)
    assert fields[0][0] == str(faces[0]) and fields[0][1] == 'face' and fields[0][3] in ('fake', 'real')
    assert 0 <= float(fields[0][2]) <= 1
    by_name = {Path(f[0]).name: f for f in fields}
    assert by_name['noise.png'][3].startswith('no face') and by_name['notes.jpg'][3].startswith('unreadable')
    js = json.loads(out_json.read_text())
    assert [Path(x['path']).name for x in js] == [Path(f[0]).name for f in fields]
    assert js[0]['sha256'] == sha256_file(faces[0]) and abs(js[0]['p_fake'] - float(fields[0][2])) < 1e-4
    assert abs(js[0]['p_fake'] - check_image(load_detector(det_dir), faces[0]).p_fake) < 1e-4   # same as the widget
    assert pd.read_csv(out_csv).status.tolist() == [x['status'] for x in js]
    before = out_json.read_text()
    r = run('facefake-predict', det_dir, faces[0], '--json-out', out_json)   # never overwrite
    assert r.returncode != 0 and 'exists' in r.stderr and 'Traceback' not in r.stderr
    assert out_json.read_text() == before

def test_predict_cli_options_and_errors(det_dir, faces, made_up, tmp_path):
    noise = tmp_path/'noise.png'; noise.write_bytes(made_up['noise.png'])
    r = run('facefake-predict', det_dir, noise, '--whole')
    assert r.returncode == 0 and r.stdout.split('\t')[1] == 'whole', r.stderr[-2000:]
    r = run('facefake-predict', det_dir, faces[0], '--no-crop')          # a face, but checked as a whole image
    assert r.returncode == 0 and r.stdout.split('\t')[1] == 'whole', r.stderr[-2000:]
    assert abs(float(r.stdout.split('\t')[2]) - check_image(load_detector(det_dir), faces[0], crop_face=False).p_fake) < 1e-4
    r = run('facefake-predict', det_dir, noise, tmp_path/'typo.jpg')
    assert r.returncode != 0 and 'typo.jpg' in r.stderr and 'Traceback' not in r.stderr and r.stdout == ''
    r = run('facefake-predict', tmp_path, noise)                          # not a detector folder
    assert r.returncode != 0 and 'card.json' in r.stderr and 'Traceback' not in r.stderr

# ---- facefake-app's checks before it starts a server (the browser test covers the running app)

def test_app_refuses_bad_arguments(det_dir, tmp_path):
    r = run('facefake-app')
    assert r.returncode != 0 and '--model' in r.stderr and 'Traceback' not in r.stderr
    r = run('facefake-app', '--model', tmp_path/'nowhere')
    assert r.returncode != 0 and 'nowhere' in r.stderr and 'Traceback' not in r.stderr
    if importlib.util.find_spec('voila') is None: return                 # without Voila it stops earlier, saying so
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); s.listen(); port = s.getsockname()[1]
        r = run('facefake-app', '--model', det_dir, '--port', port)
    assert r.returncode != 0 and f'port {port}' in r.stderr and 'Traceback' not in r.stderr

def test_names_are_escaped(det, made_up, tmp_path):
    c = FaceChecker(det, feedback=Feedback(tmp_path/'fb.sqlite'))
    c.upload.value = (as_upload('<img src=x onerror=alert(1)>.png', made_up['noise.png']),)
    html = c.cards.children[0].children[-1].children[0].value
    assert '&lt;img src=x onerror=alert(1)&gt;.png' in html and '<img src=x' not in html

def test_whole_framing_checks_the_image_as_trained(det, made_up):
    "A detector trained on the images as stored is shown uploads as they are, without a face search; older cards mean that."
    as_stored = Detector(det.model, {**det.card, 'framing': {'recipe': 'whole'}})
    r = check_image(as_stored, made_up['noise.png'], 'noise.png')
    assert r.ok and not r.face and r.framing == 'whole' and 'as the detector was trained' in r.message
    assert abs(r.p_fake - float(as_stored.p_fake([Image.open(io.BytesIO(made_up['noise.png'])).convert('RGB')])[0])) < 1e-5
    older = Detector(det.model, {k: v for k, v in det.card.items() if k != 'framing'})
    assert older.framing == {'recipe': 'whole'}
