"Past one machine: training with two processes (accelerate, gloo on the CPU) and batch scoring that survives an interruption."
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd
import pytest
from facefake.core import data_root

BIN = Path(sys.executable).parent
SAMPLE = data_root()/'faces140k-sample'
pytestmark = pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"no {SAMPLE}: set FACEFAKE_DATA to the shared datasets")
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}

def launch(n:int, *args, **kw) -> subprocess.CompletedProcess:
    "`accelerate launch` with n processes of `python -m facefake.scale ARGS` (gloo on a CPU-only machine)."
    cmd = [str(BIN/'accelerate'), 'launch', '--num_processes', str(n), '--num_machines', '1', '--mixed_precision', 'no',
           '--dynamo_backend', 'no', *(['--multi_gpu'] if n > 1 else []), '-m', 'facefake.scale', *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=900, **kw)

def figures(r) -> dict:
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])

def test_two_processes_fine_tune_one_detector(tmp_path):
    "Fine-tuning on 2 processes: it completes, only the main process writes, and its validation figures are a 1-process run's within noise."
    args = ['faces140k-sample', '--method', 'finetune', '--limit', 100, '--size', 64, '--epochs', 1]
    two = figures(launch(2, 'train', *args[:1], tmp_path/'two', *args[1:], cwd=tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ['two']                 # nothing else written, by either process
    assert sorted(p.name for p in (tmp_path/'two').iterdir()) == ['card.json', 'model.safetensors']
    assert json.loads((tmp_path/'two'/'card.json').read_text())['training']['processes'] == 2
    one = figures(launch(1, 'train', *args[:1], tmp_path/'one', *args[1:]))
    assert one['processes'] == 1
    # 30 validation images, 1 epoch, batches split differently: the two runs differ only by training noise
    assert abs(two['valid_auc'] - one['valid_auc']) < 0.15, (one, two)
    assert abs(two['valid_accuracy'] - one['valid_accuracy']) < 0.2, (one, two)

def test_train_refuses_an_existing_folder(tmp_path):
    (tmp_path/'mine').mkdir(); (tmp_path/'mine'/'keep.txt').write_text('mine')
    r = subprocess.run([sys.executable, '-m', 'facefake.scale', 'train', 'faces140k-sample', str(tmp_path/'mine')], capture_output=True, text=True)
    assert r.returncode == 2 and 'exists' in r.stderr
    assert (tmp_path/'mine'/'keep.txt').read_text() == 'mine'

@pytest.fixture(scope='module')
def scoring(tmp_path_factory):
    "A small probe saved to disk and a folder of 48 images (symlinks to the shared faces) in two sub-folders."
    tmp = tmp_path_factory.mktemp('scale')
    figures(launch(1, 'train', 'faces140k-sample', tmp/'det', '--limit', 12, '--size', 64))
    folder = tmp/'photos'
    for i, p in enumerate(p for c in ('real', 'fake') for p in sorted((SAMPLE/c).glob('*.jpg'))[:24]):
        (folder/f'part{i % 2}').mkdir(parents=True, exist_ok=True); os.symlink(p, folder/f'part{i % 2}'/f'{p.parent.name}-{p.name}')
    return tmp/'det', folder

def score(*args, **kw):
    return subprocess.Popen([str(BIN/'facefake-score'), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, **kw)

def rows(csv) -> pd.DataFrame: return pd.read_csv(csv, dtype={'p_fake': float})

def test_interrupted_scoring_resumes_each_file_once(scoring, tmp_path):
    det, folder = scoring
    out = tmp_path/'scores.csv'
    p = score(det, folder, '--out', out, '--bs', 2, '--workers', 1, '--no-progress')
    deadline = time.time() + 300
    while time.time() < deadline and (not out.exists() or out.read_text().count('\n') < 9): time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    half = out.read_text().count('\n') - 1
    assert 0 < half < 48, f"the run was not stopped half-way ({half} rows)"
    r = score(det, folder, '--out', out, '--bs', 2, '--workers', 1, '--no-progress'); _, err = r.communicate(timeout=600)
    assert r.returncode == 0, err
    df = rows(out)
    assert len(df) == 48 and df.path.is_unique and (df.status == 'ok').all(), df.path.value_counts().head()
    import re
    scored, skipped = map(int, re.search(r': (\d+) scored in .*, (\d+) already there', err).groups())
    assert skipped == half and scored + skipped == 48, err   # a torn last row (no newline yet) is scored again
    whole = tmp_path/'whole.csv'
    r = score(det, folder, '--out', whole, '--no-progress'); r.communicate(timeout=600)
    assert (rows(whole).set_index('path').p_fake - df.set_index('path').p_fake).abs().max() < 1e-5   # resumed = uninterrupted

def test_two_processes_share_the_scoring(scoring, tmp_path):
    det, folder = scoring
    out = tmp_path/'scores.csv'
    r = launch(2, 'score', det, folder, '--out', out, '--bs', 4, '--no-progress')
    assert r.returncode == 0, r.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['scores.csv']       # the part files were gathered and removed
    two = rows(out)
    assert len(two) == 48 and two.path.is_unique
    one = tmp_path/'one.csv'
    r = score(det, folder, '--out', one, '--no-progress'); r.communicate(timeout=600)
    assert (rows(one).set_index('path').p_fake - two.set_index('path').p_fake).abs().max() < 1e-5

def test_score_refuses_bad_input(scoring, tmp_path):
    det, folder = scoring
    other = tmp_path/'notes.csv'; other.write_text('name,score\nx,1\n')
    for args, msg in [((det, tmp_path/'nowhere'), 'no such folder'), ((tmp_path, folder), 'card.json'),
                      ((det, folder, '--out', other), 'not a facefake score file')]:
        r = score(*args, '--no-progress'); _, err = r.communicate(timeout=300)
        assert r.returncode == 2 and msg in err, (args, err)
    assert other.read_text() == 'name,score\nx,1\n'
