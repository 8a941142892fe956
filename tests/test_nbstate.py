"The stored-outputs check: a notebook's outputs are trusted only while the code that produced them is unchanged."
import json, shutil, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import nbstate  # noqa: E402

def nb(*cells, meta=None) -> dict:
    "A notebook of code cells (each with an output, as if run)."
    return dict(cells=[dict(cell_type='code', source=c, outputs=[dict(output_type='stream', name='stdout', text='x')],
                            metadata={}, execution_count=1) for c in cells], metadata=meta or {}, nbformat=4, nbformat_minor=5)

@pytest.fixture
def repo(tmp_path):
    "A copy of the package and of every notebook, to edit."
    shutil.copytree(ROOT/'facefake', tmp_path/'facefake')
    shutil.copytree(ROOT/'nbs', tmp_path/'nbs', ignore=shutil.ignore_patterns('.ipynb_checkpoints'))
    return tmp_path

def test_the_repository_passes(repo, capsys):
    assert nbstate.check(repo) == 0, capsys.readouterr().out

def test_an_edited_module_makes_the_check_fail(repo, capsys):
    core = repo/'facefake'/'core.py'
    core.write_text(core.read_text().replace("FULL_ENV = 'FACEFAKE_FULL'", "FULL_ENV = 'FACEFAKE_FULL'  # edited"))
    assert nbstate.check(repo) == 1
    out = capsys.readouterr().out
    assert 'nbs/api/00_core.ipynb: outputs came from other code' in out     # its own module
    assert 'nbs/course/01_real_or_fake.ipynb: outputs came from other code' in out   # a chapter that uses it through other modules

def test_an_edited_code_cell_makes_the_check_fail(repo, capsys):
    p = repo/'nbs'/'api'/'05a_metrics.ipynb'
    d = json.loads(p.read_text())
    c = next(c for c in d['cells'] if c['cell_type'] == 'code' and c.get('outputs'))
    c['source'] = ''.join(c['source']) + '\n# edited'
    p.write_text(json.dumps(d))
    assert nbstate.check(repo) == 1
    assert 'nbs/api/05a_metrics.ipynb' in capsys.readouterr().out

def test_dependencies_follow_the_modules_imports(tmp_path):
    pkg = tmp_path/'facefake'; pkg.mkdir()
    (pkg/'a.py').write_text('X = 1\n'); (pkg/'b.py').write_text('from .a import X\n'); (pkg/'c.py').write_text('Y = 2\n')
    book = nb('%matplotlib inline\nfrom facefake.b import X\nprint(X)')
    assert nbstate.notebook_modules(book, pkg) == {'a', 'b'}
    assert nbstate.notebook_modules(nb('!facefake-train a b'), pkg) == set()    # no cli module in this package
    assert nbstate.notebook_modules(nb('import facefake'), pkg) == set()          # no __init__.py either
    h = nbstate.sources_hash(book, pkg)
    (pkg/'c.py').write_text('Y = 3\n'); assert nbstate.sources_hash(book, pkg) == h   # a module it does not use
    (pkg/'a.py').write_text('X = 2\n'); assert nbstate.sources_hash(book, pkg) != h   # one it uses through b

def test_unstamped_or_missing_outputs(tmp_path):
    pkg = tmp_path/'facefake'; pkg.mkdir(); (pkg/'a.py').write_text('X = 1\n')
    p = tmp_path/'n.ipynb'
    p.write_text(json.dumps(nb('from facefake.a import X')))
    assert 'no record' in nbstate.stale(p, pkg)
    book = nb('from facefake.a import X'); book['metadata']['facefake'] = dict(sources=nbstate.sources_hash(book, pkg))
    p.write_text(json.dumps(book)); assert nbstate.stale(p, pkg) == ''
    empty = nb('x = 1'); empty['cells'][0]['outputs'] = []
    p.write_text(json.dumps(empty)); assert nbstate.stale(p, pkg) == ''   # nothing stored, nothing to trust

def test_course_chapters_keep_their_shape(tmp_path):
    p = tmp_path/'01_x.ipynb'
    md = lambda s: dict(cell_type='markdown', source=s, metadata={})
    book = nb('#| export\ndef f(): pass')
    book['cells'] = [md('# T\n\n> s'), md('**What you will learn**\n\n- a')] + book['cells'] + [md('## Exercises\n\n1. b')]
    p.write_text(json.dumps(book))
    assert nbstate.chapter_problems(p) == ['01_x.ipynb: course chapters export nothing (cell 2 is `#| export`)']
    book['cells'] = book['cells'][:2]
    p.write_text(json.dumps(book))
    assert nbstate.chapter_problems(p) == ['01_x.ipynb: no Exercises or Questionnaire section']

def test_notebooks_stay_small(tmp_path):
    (tmp_path/'a.ipynb').write_bytes(b'x' * 1024)
    assert nbstate.size_problems(tmp_path) == []
    (tmp_path/'b.ipynb').write_bytes(b'x' * int(nbstate.MAX_MIB * 2**20))
    assert 'over' in nbstate.size_problems(tmp_path)[0] and 'b.ipynb' in nbstate.size_problems(tmp_path)[0]
