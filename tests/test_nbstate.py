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

def write(pkg, **modules):
    "Write each module's source into the package folder `pkg` (created); return `pkg`."
    pkg.mkdir(exist_ok=True)
    for name, src in modules.items(): (pkg/f'{name}.py').write_text(src)
    return pkg

@pytest.fixture
def repo(tmp_path):
    "A copy of the package and of every notebook, to edit."
    shutil.copytree(ROOT/'facefake', tmp_path/'facefake')
    shutil.copytree(ROOT/'nbs', tmp_path/'nbs', ignore=shutil.ignore_patterns('.ipynb_checkpoints'))
    shutil.copy(ROOT/'pyproject.toml', tmp_path)
    return tmp_path

def test_the_repository_passes(repo, capsys):
    assert nbstate.check(repo) == 0, capsys.readouterr().out

def stamped(path, book, pkg):
    "Write `book` to `path` with a current stamp."
    book['metadata']['facefake'] = dict(code=nbstate.sources_hash(book, pkg), form='quick')
    path.write_text(json.dumps(book))

def test_docstrings_and_comments_do_not_count(repo, capsys):
    p = repo/'nbs'/'api'/'99_fixture.ipynb'
    stamped(p, nb('from facefake.core import full_run\nfull_run()'), repo/'facefake')
    nbstate.check(repo); before = capsys.readouterr().out
    core = repo/'facefake'/'core.py'
    src = core.read_text()
    edited = src.replace('"Whether a chapter should use full datasets', '"Whether a notebook should use full datasets')
    edited = edited.replace("    env = os.environ.get(FULL_ENV, '').strip()\n", "    env = os.environ.get(FULL_ENV, '').strip()   # edited\n")
    assert edited.count('edited') == 1 and 'a notebook should' in edited
    core.write_text(edited)
    assert nbstate.stale(p, repo/'facefake') == ''
    nbstate.check(repo); assert capsys.readouterr().out == before   # no notebook went stale
    core.write_text(src.replace("if env.lower() in ('1', 'true', 'yes'): return True", "if env.lower() in ('1', 'true'): return True"))
    assert 'outputs came from other code' in nbstate.stale(p, repo/'facefake')   # the code it reaches did change

def test_an_edited_module_makes_the_check_fail(repo, capsys):
    core = repo/'facefake'/'core.py'
    core.write_text(core.read_text().replace("FULL_ENV = 'FACEFAKE_FULL'", "FULL_ENV = 'FACEFAKE_FULL_RUN'"))
    assert nbstate.check(repo) == 1
    out = capsys.readouterr().out
    assert 'nbs/api/00_core.ipynb: outputs came from other code' in out     # its own module
    assert 'nbs/course/01_real_or_fake.ipynb: outputs came from other code' in out   # a chapter that uses it through other modules

def test_an_edited_code_cell_makes_the_check_fail(repo, capsys):
    p = repo/'nbs'/'api'/'05a_metrics.ipynb'
    d = json.loads(p.read_text())
    c = next(c for c in d['cells'] if c['cell_type'] == 'code' and c.get('outputs'))
    c['source'] = ''.join(c['source']) + '\nprint("edited")'   # code (a comment alone would not count)
    p.write_text(json.dumps(d))
    assert nbstate.check(repo) == 1
    assert 'nbs/api/05a_metrics.ipynb' in capsys.readouterr().out

def test_only_reached_code_counts(tmp_path):
    pkg = write(tmp_path/'facefake', a='def _inner(): return 1\ndef f(): return _inner()\n', b='def g(): return 1\n')
    book = nb('%matplotlib inline\nfrom facefake.a import f\nprint(f())')
    assert [str(u) for u in nbstate.reached(book, pkg)] == ['a._inner', 'a.f']
    h = nbstate.sources_hash(book, pkg)
    write(pkg, b='def g(): return 2\n'); assert nbstate.sources_hash(book, pkg) == h                       # not reached
    write(pkg, a='def _inner(): return 2\ndef f(): return _inner()\n'); assert nbstate.sources_hash(book, pkg) != h   # through f
    h = nbstate.sources_hash(book, pkg)
    write(pkg, a='def _inner(): return 2\ndef f(): return _inner() + 0\n'); assert nbstate.sources_hash(book, pkg) != h  # f itself

def test_a_bare_name_means_its_modules_own_global(tmp_path):
    pkg = write(tmp_path/'facefake', a='SIDE = 32\ndef f(): return SIDE\n', b='def g(): return 1\n')
    book = nb('from facefake.a import f\nf()')
    h = nbstate.sources_hash(book, pkg)
    write(pkg, b='SIDE = 32\ndef g(): return SIDE\n'); assert nbstate.sources_hash(book, pkg) == h   # b's SIDE is not a's
    assert [str(u) for u in nbstate.reached(nb('import facefake.b as b\nb.SIDE'), pkg)] == ['a.SIDE', 'b.SIDE']  # an attribute: any
    write(pkg, a='from .b import SIDE\ndef f(): return SIDE\n')
    assert [str(u) for u in nbstate.reached(book, pkg)] == ['a.f', 'b.SIDE']   # a has none of its own: imported, from anywhere

def test_moving_a_helper_between_modules_does_not_count(tmp_path):
    pkg = write(tmp_path/'facefake', a='import os\ndef _helper(x):\n    return x + 1\ndef f(): return _helper(1)\n',
                b='def g(): return 1\n')
    book = nb('from facefake.a import f\nf()')
    h = nbstate.sources_hash(book, pkg)
    write(pkg, a='"Module a."\nimport os\nfrom .b import _helper\n\ndef f(): return _helper(1)\n',
          b='def g(): return 1\n\ndef _helper(x):\n    "Add one."\n    return x + 1   # moved here\n')
    assert [str(u) for u in nbstate.reached(book, pkg)] == ['a.f', 'b._helper']
    assert nbstate.sources_hash(book, pkg) == h
    write(pkg, b='def g(): return 1\ndef _helper(x): return x + 2\n'); assert nbstate.sources_hash(book, pkg) != h

def test_side_effects_strings_commands_and_exported_modules(tmp_path):
    pkg = write(tmp_path/'facefake', a='import warnings\nwarnings.filterwarnings("ignore")\ndef f(): return 1\n',
                b='REGISTRY = ["_impl"]\ndef _impl(): return 1\n', cli='def go_cli(): return 1\ndef other_cli(): return 2\n')
    (tmp_path/'pyproject.toml').write_text('[project.scripts]\nfacefake-go = "facefake.cli:go_cli"\n')
    labels = lambda book: [str(u) for u in nbstate.reached(book, pkg)]
    assert labels(nb('from facefake.a import f')) == ['a.<side effects>', 'a.f']
    assert labels(nb('from facefake.b import REGISTRY')) == ['b.REGISTRY', 'b._impl']    # named by a string
    assert labels(nb('x = 1\n!facefake-go --fast')) == ['cli.go_cli']
    assert labels(nb('#| default_exp cli')) == ['cli.go_cli', 'cli.other_cli']
    book = nb('from facefake.a import f'); h = nbstate.sources_hash(book, pkg)
    write(pkg, a='import warnings\nwarnings.filterwarnings("default")\ndef f(): return 1\n')
    assert nbstate.sources_hash(book, pkg) != h

def test_why_lists_the_reached_units(tmp_path, capsys):
    pkg = write(tmp_path/'facefake', a='X = 1\ndef f(): return X\n')
    p = tmp_path/'n.ipynb'; p.write_text(json.dumps(nb('from facefake.a import f')))
    assert nbstate.why(p, pkg) == 0 and capsys.readouterr().out == 'a.X\na.f\n'

def test_unstamped_or_missing_outputs(tmp_path):
    pkg = write(tmp_path/'facefake', a='X = 1\n')
    p = tmp_path/'n.ipynb'
    p.write_text(json.dumps(nb('from facefake.a import X')))
    assert 'no record' in nbstate.stale(p, pkg)
    book = nb('from facefake.a import X'); book['metadata']['facefake'] = dict(sources='0' * 64)
    p.write_text(json.dumps(book)); assert 'old `sources` stamp' in nbstate.stale(p, pkg)
    stamped(p, book, pkg); assert nbstate.stale(p, pkg) == ''
    write(pkg, a='X = 2\n'); assert 'quick form' in nbstate.stale(p, pkg)
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

def test_a_notebooks_own_cells_count_as_code(tmp_path):
    "A docstring or comment edited in an export cell leaves the stamp; a changed line of code, a directive or a shell line does not."
    pkg = write(tmp_path/'facefake', a='X = 1\n')
    cell = '#| export\ndef f():\n    "Say one."\n    return 1  # one'
    h = nbstate.sources_hash(nb(cell), pkg)
    assert nbstate.sources_hash(nb(cell.replace('Say one.', 'Return one.').replace('# one', '# the number one')), pkg) == h
    assert nbstate.sources_hash(nb(cell.replace('return 1', 'return 2')), pkg) != h
    assert nbstate.sources_hash(nb(cell.replace('#| export', '#| eval: false')), pkg) != h
    assert nbstate.sources_hash(nb('!facefake-train a b'), pkg) != nbstate.sources_hash(nb('!facefake-train a c'), pkg)
