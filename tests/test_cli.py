"The command-line entry points, run as a user runs them: as separate processes."
import json, shutil, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score
from facefake.core import data_root

BIN = Path(sys.executable).parent
SAMPLE = data_root()/'faces140k-sample'
needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"no {SAMPLE}: set FACEFAKE_DATA to the shared datasets")

def run(cmd, *args, cwd=None):
    return subprocess.run([str(BIN/cmd), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)

@pytest.fixture(scope='module')
def report(tmp_path_factory):
    "One small run of the default demo (the linear probe; 60 faces per class at 48 px) shared by the tests below."
    out = tmp_path_factory.mktemp('demo')/'report'
    r = run('facefake-demo', '--out', out, '--size', 48, '--limit', 60)
    assert r.returncode == 0, r.stderr[-3000:]
    return out

@needs_sample
def test_demo_writes_report(report):
    names = {p.name for p in report.iterdir()}
    assert {'index.html', 'metrics.json', 'balance.png', 'audit.png', 'average_faces.png', 'training.png', 'evaluation.png'} <= names
    m = json.loads((report/'metrics.json').read_text())
    assert m['images'] == 120 and m['evaluation']['n'] == m['split_counts']['test']
    assert m['detector']['training']['method'].startswith('linear probe') and m['detector']['arch'] == 'mobilenet_v2_taps8'
    assert m['detector']['calibration']['method'] == 'platt' and m['detector']['calibration']['data'] == 'faces140k-sample valid split'
    assert 0 <= m['evaluation']['roc_auc'] <= 1 and 0 <= m['audit']['metadata_accuracy'] <= 1   # tiny slice: values are noisy
    html = (report/'index.html').read_text()
    for png in ['audit.png', 'average_faces.png', 'evaluation.png']: assert f"src='{png}'" in html
    for png in report.glob('*.png'): assert png.stat().st_size > 10_000, png   # real figures, not empty canvases

def same_scores_as_predict(det_dir, tmp_path):
    "facefake-evaluate and facefake-predict on one folder (faces, and a picture without one): the same p_fake per file."
    folder = tmp_path/'mine'
    for label in ('real', 'fake'):
        (folder/label).mkdir(parents=True)
        for p in sorted((SAMPLE/label).glob('*.jpg'))[:6]: shutil.copy(p, folder/label/p.name)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(folder/'real'/'noise.png')
    r = run('facefake-evaluate', det_dir, folder, '--csv-out', tmp_path/'ev.csv')
    assert r.returncode == 0, r.stderr[-2000:]
    r = run('facefake-predict', det_dir, folder, '--whole', '--csv-out', tmp_path/'pr.csv')
    assert r.returncode == 0, r.stderr[-2000:]
    ev, pr = pd.read_csv(tmp_path/'ev.csv').set_index('path'), pd.read_csv(tmp_path/'pr.csv').set_index('path')
    assert len(ev) == 13 and set(ev.index) == set(pr.index)
    pr = pr.loc[ev.index]
    np.testing.assert_allclose(pr.p_fake, ev.p_fake, atol=1e-5)
    assert list(pr.face) == list(ev.face) and not ev.face[str(folder/'real'/'noise.png')] and ev.face.sum() >= 10

@needs_sample
def test_evaluate_and_predict_agree(report, tmp_path):
    "The demo's detector: the same framing and p_fake through facefake-evaluate and facefake-predict."
    assert json.loads((report/'detector'/'card.json').read_text())['framing']['recipe'] == 'face'
    same_scores_as_predict(report/'detector', tmp_path)

@needs_sample
def test_predict_gives_the_reported_figures(report, tmp_path):
    "facefake-predict on the demo's test split files: the p_fake of test_scores.csv, the accuracy and AUC of metrics.json."
    scores = pd.read_csv(report/'test_scores.csv')
    r = run('facefake-predict', report/'detector', *scores.path, '--whole', '--csv-out', tmp_path/'pr.csv')
    assert r.returncode == 0, r.stderr[-2000:]
    pr = pd.read_csv(tmp_path/'pr.csv')
    assert list(pr.path) == list(scores.path)
    np.testing.assert_allclose(pr.p_fake, scores.p_fake, atol=1e-5)
    m, y = json.loads((report/'metrics.json').read_text())['evaluation'], (scores.label == 'fake').to_numpy()
    assert abs(roc_auc_score(y, pr.p_fake) - m['roc_auc']) <= 0.01
    assert abs(((pr.p_fake >= m['threshold']).to_numpy() == y).mean() - m['accuracy']) <= 0.01

@needs_sample
def test_demo_finetune_saves_a_loadable_detector(tmp_path):
    out = tmp_path/'report'
    r = run('facefake-demo', '--out', out, '--size', 48, '--limit', 40, '--method', 'finetune', '--epochs', 1)
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((out/'metrics.json').read_text())
    assert m['detector']['arch'] == 'mobilenet_v2' and m['detector']['training']['epochs'] == 1
    from facefake.detector import load_detector
    det = load_detector(out/'detector')
    p = det.p_fake([next((SAMPLE/'fake').iterdir())])
    assert p.shape == (1,) and 0 <= p[0] <= 1
    same_scores_as_predict(out/'detector', tmp_path)

@needs_sample
def test_demo_refuses_foreign_folder(tmp_path):
    mine = tmp_path/'mine'; mine.mkdir(); (mine/'thesis.docx').write_text('precious')
    r = run('facefake-demo', '--out', mine, '--limit', 10)
    assert r.returncode != 0 and 'not a facefake report' in r.stderr
    assert [p.name for p in mine.iterdir()] == ['thesis.docx'] and (mine/'thesis.docx').read_text() == 'precious'

def test_demo_unknown_dataset_is_a_clear_error(tmp_path):
    r = run('facefake-demo', '--dataset', tmp_path/'no-such-folder', '--out', tmp_path/'r')
    assert r.returncode != 0 and 'Traceback' not in r.stderr
    assert 'no-such-folder' in r.stderr

@needs_sample
def test_evaluate_cli(report, tmp_path):
    out = tmp_path/'eval.json'
    r = run('facefake-evaluate', report/'detector', SAMPLE, '--json-out', out)
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads(out.read_text())
    assert m['n'] == 2200 and m['n_fake'] == 1100 and 'accuracy' in r.stdout
    r = run('facefake-evaluate', report/'detector', SAMPLE, '--json-out', out)   # never overwrite the user's file
    assert r.returncode != 0 and 'exists' in r.stderr

@needs_sample
def test_audit_cli(tmp_path):
    r = run('facefake-audit', data_root()/'rff-part', '--json-out', tmp_path/'a.json')
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'SHORTCUT' in r.stdout and 'jpeg_quality' in r.stdout
    assert json.loads((tmp_path/'a.json').read_text())['metadata_accuracy'] > 0.6

@needs_sample
def test_train_cli_probe(tmp_path):
    "facefake-train fits the linear probe by default, evaluates it and saves a detector that facefake-evaluate reads."
    out = tmp_path/'probe'
    r = run('facefake-train', 'faces140k-sample', out, '--size', 64, '--limit', 40)
    assert r.returncode == 0, r.stderr[-3000:]
    card = json.loads((out/'card.json').read_text())
    assert card['arch'] == 'mobilenet_v2_taps8' and card['training']['method'].startswith('linear probe')
    assert card['training']['n_train'] + card['training']['n_valid'] < 80 and 0 <= card['metrics']['roc_auc'] <= 1
    r = run('facefake-evaluate', out, SAMPLE/'..'/'rff-part')
    assert r.returncode == 0 and 'accuracy' in r.stdout, r.stderr[-2000:]
    r = run('facefake-train', 'faces140k-sample', out, '--limit', 10)   # never into a used folder
    assert r.returncode != 0 and 'not empty' in r.stderr

@needs_sample
def test_train_cli_kinds(tmp_path):
    "facefake-train kinds fits the three-class probe (real / gan / photoshop), prints per-class figures, and facefake-predict names the kind."
    out = tmp_path/'kinds'
    r = run('facefake-train', 'kinds', out, '--size', 64, '--limit', 12)
    assert r.returncode == 0, r.stderr[-3000:]
    card = json.loads((out/'card.json').read_text())
    assert card['classes'] == ['real', 'gan', 'photoshop'] and card['calibration']['method'] == 'platt'
    assert 'photoshop' in r.stdout and 'precision' in r.stdout and 'rff-part' in r.stdout
    few = tmp_path/'few'; few.mkdir()
    for f in sorted((SAMPLE/'fake').glob('*.jpg'))[:3]: shutil.copy(f, few/f.name)
    r = run('facefake-predict', out, few, '--whole')
    lines = [l.split('\t') for l in r.stdout.splitlines()]
    assert r.returncode == 0 and lines, r.stderr[-2000:]
    assert all(l[3] == 'real' or l[3] in ('fake (gan)', 'fake (photoshop)') for l in lines), lines[:3]
    r = run('facefake-train', 'kinds', tmp_path/'ft', '--method', 'finetune')
    assert r.returncode == 2 and 'linear probe' in r.stderr

BAD = 'no-such-dataset'

@pytest.mark.parametrize('cmd,args', [
    ('facefake-fetch', [BAD]),
    ('facefake-audit', [BAD]),
    ('facefake-train', [BAD, '{new}']),
    ('facefake-tune', [BAD, '--out', '{new}']),
    ('facefake-evaluate', ['{new}', BAD]),
    ('facefake-demo', ['--dataset', BAD, '--out', '{new}']),
])
def test_a_bad_dataset_name_exits_2(cmd, args, tmp_path):
    "Every command that takes a dataset resolves it the same way and refuses an unknown one with exit code 2, naming it."
    r = run(cmd, *[a.format(new=tmp_path/'new') for a in args])
    assert r.returncode == 2 and BAD in r.stderr and 'Traceback' not in r.stderr, (r.returncode, r.stderr[-2000:])
    assert cmd in r.stderr and not (tmp_path/'new').exists()

@pytest.mark.parametrize('cmd,args', [
    ('facefake-audit', [BAD, '--json-out', '{file}']),
    ('facefake-train', [BAD, '{folder}']),
    ('facefake-tune', [BAD, '--out', '{folder}']),
    ('facefake-evaluate', ['{folder}', BAD, '--json-out', '{file}']),
    ('facefake-evaluate', ['{folder}', BAD, '--csv-out', '{file}']),
    ('facefake-calibrate', ['{folder}', BAD, '--out', '{folder}']),
    ('facefake-calibrate', ['{folder}', BAD, '--out', '{folder}/../new', '--json-out', '{file}']),
    ('facefake-predict', ['{folder}', '{folder}/missing.jpg', '--json-out', '{file}']),
    ('facefake-predict', ['{folder}', '{folder}/missing.jpg', '--csv-out', '{file}']),
    ('facefake-demo', ['--dataset', BAD, '--out', '{folder}']),
])
def test_an_existing_output_is_refused_before_any_work(cmd, args, tmp_path):
    "An output file that exists, or a used folder, is refused first: before the dataset, model or images are even looked at."
    folder, file = tmp_path/'mine', tmp_path/'results.json'
    folder.mkdir(); (folder/'thesis.docx').write_text('precious'); file.write_text('precious')
    r = run(cmd, *[a.format(folder=folder, file=file) for a in args])
    assert r.returncode == 2 and 'Traceback' not in r.stderr, (r.returncode, r.stderr[-2000:])
    assert any(w in r.stderr for w in ('exists', 'not empty', 'not a facefake report')) and BAD not in r.stderr, r.stderr
    assert [p.name for p in folder.iterdir()] == ['thesis.docx'] and (folder/'thesis.docx').read_text() == 'precious'
    assert file.read_text() == 'precious'

def labelled_folder(root, n_real, n_fake, src=SAMPLE):
    "A folder with real/ and fake/ holding copies of the first images of `src`."
    for label, n in (('real', n_real), ('fake', n_fake)):
        (root/label).mkdir(parents=True, exist_ok=True)
        for p in sorted((src/label).glob('*.jpg'))[-n:] if n else []: shutil.copy(p, root/label/p.name)
    return root

@needs_sample
def test_calibrate_cli(report, tmp_path):
    "facefake-calibrate: figures before and after on the user's images, a new detector folder, the original untouched; predict names the calibration."
    folder = labelled_folder(tmp_path/'mine', 20, 20, SAMPLE/'..'/'rff-part')
    before = (report/'detector'/'card.json').read_bytes()
    out = tmp_path/'calibrated'
    r = run('facefake-calibrate', report/'detector', folder, '--out', out, '--json-out', tmp_path/'cal.json')
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'before: accuracy' in r.stdout and 'after:  accuracy' in r.stdout and 'cross-validated' in r.stdout and 'warning' not in r.stdout
    rep = json.loads((tmp_path/'cal.json').read_text())
    assert (rep['n_real'], rep['n_fake']) == (20, 20) and rep['after']['threshold'] == 0.5
    card = json.loads((out/'card.json').read_text())
    assert card['calibration']['data'] == 'mine' and card['calibration']['n_real'] == 20 and card['threshold'] == 0.5
    assert (report/'detector'/'card.json').read_bytes() == before
    # the accuracy printed after calibration is what facefake-evaluate then measures on the same folder
    r2 = run('facefake-evaluate', out, folder, '--json-out', tmp_path/'ev.json')
    assert r2.returncode == 0, r2.stderr[-2000:]
    assert abs(json.loads((tmp_path/'ev.json').read_text())['accuracy'] - rep['after']['accuracy']) < 1e-9
    r3 = run('facefake-predict', out, next((folder/'real').iterdir()))
    assert r3.returncode == 0 and 'Platt scaling fitted on 40 images of mine' in r3.stderr, r3.stderr[-2000:]
    r4 = run('facefake-calibrate', report/'detector', labelled_folder(tmp_path/'few', 8, 8), '--out', tmp_path/'c-few')
    assert r4.returncode == 0 and 'warning: only 8 images of a class' in r4.stdout, r4.stdout

def broken_folder(root):
    labelled_folder(root, 6, 6)
    (root/'fake'/'broken.jpg').write_bytes(b'\xff\xd8 not really a jpeg')
    return root

@needs_sample
@pytest.mark.parametrize('make,says', [
    (lambda d: labelled_folder(d, 10, 0), 'both classes'),
    (lambda d: labelled_folder(d, 10, 3), 'too few'),
    (lambda d: d.mkdir() or d, 'no labelled images'),
    (broken_folder, 'broken.jpg'),
    (lambda d: d/'missing', 'no such folder'),
])
def test_calibrate_cli_refuses(report, tmp_path, make, says):
    "One class, too few of a class, no images, an unreadable file, no folder: a message, exit code 2, nothing written."
    folder = make(tmp_path/'mine')
    r = run('facefake-calibrate', report/'detector', folder, '--out', tmp_path/'new')
    assert r.returncode == 2 and says in r.stderr and 'Traceback' not in r.stderr, (r.returncode, r.stderr[-2000:])
    assert not (tmp_path/'new').exists()
