"""Run notebooks and record which code produced their stored outputs; check that no stored output is stale.

    python tools/nbstate.py run nbs/course/01_intro.ipynb --full   # run it (FACEFAKE_FULL=1), save outputs, stamp it
    python tools/nbstate.py run nbs/api/00_core.ipynb              # the quick form (FACEFAKE_FULL=0)
    python tools/nbstate.py check                                  # exit 1 if any notebook's outputs are stale
    python tools/nbstate.py why nbs/api/00_core.ipynb              # the package code a notebook's outputs depend on

A notebook's outputs depend on its own code cells and on the package code they *reach*. Each top-level def, class or
assignment of a `facefake` module is a unit, known by the name(s) it defines; a module's other top-level statements
(`warnings.filterwarnings(...)`, an `if` block) are one more unit, its side effects. A notebook reaches every unit
named by a name, attribute or string in its code cells, all units of its `#| default_exp` module and the function a
`!facefake-*` shell line runs (`[project.scripts]`); a reached unit reaches in turn every unit it names, and its
module's side effects. A bare name means its own module's unit when there is one (as Python reads it), else like an
attribute or a string any unit of that name: over-reaching is safe. Units, and the notebook's own code cells
(`cell_code`: with their `#|` directives and shell lines), are compared as code: their `ast.dump` without docstrings,
and for units without their module. Comments, formatting, docstrings, imports and moving code between modules leave
the outputs trusted; a changed line of code they reach does not. `run` executes the notebook with `nbdev-test --save`
and writes the SHA-256 of its cells and reached units, and which form ran, into the notebook's metadata (`facefake`:
`code`, `form`; nbdev-clean keeps it through `allowed_metadata_keys` in pyproject.toml). `check` recomputes the hash
for every notebook under nbs/ that holds outputs and fails when it differs or is missing: the stored outputs may no
longer be what the code gives.

`check` also holds the course chapters (nbs/course/) to their shape: no `#| export` cells, a "what you will learn"
opening and exercises or a questionnaire at the end; and all of nbs/ to at most `MAX_MIB`.
"""
import ast, copy, functools, hashlib, json, os, re, subprocess, sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG, NBS = ROOT/'facefake', ROOT/'nbs'
KEY = 'facefake'

def _code_cells(nb:dict) -> list: return [''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code']

def _python(src:str) -> str:
    "A code cell with IPython magics and shell lines blanked, so that `ast` can read it."
    return '\n'.join('' if l.lstrip().startswith(('!', '%')) else l for l in src.splitlines())

@dataclass(eq=False)
class Unit:
    "A top-level piece of a module: names it defines (none: side effects), code without docstrings, `_refs` of that code."
    module:str; names:tuple; code:str; bare:frozenset; refs:frozenset
    def __str__(self): return f"{self.module}.{'/'.join(self.names) or '<side effects>'}"

def _is_doc(node) -> bool: return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)

def _strip(node:ast.AST) -> ast.AST:
    "A copy of `node` without docstrings (the leading string of each class and function body in it)."
    node = copy.deepcopy(node)
    for n in ast.walk(node):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and _is_doc(n.body[0]): n.body = n.body[1:] or [ast.Pass()]
    return node

def _ref(n:ast.AST):
    "The name a node mentions, if it is a name, an attribute, an imported name or a string constant."
    if isinstance(n, ast.Name): return n.id
    if isinstance(n, ast.Attribute): return n.attr
    if isinstance(n, ast.alias): return n.name.rpartition('.')[2]
    if isinstance(n, ast.Constant) and isinstance(n.value, str): return n.value

def _refs(tree:ast.AST) -> tuple:
    "The names `tree` mentions: bare names, and attributes, imported names and strings (for registries and `getattr`)."
    nodes = list(ast.walk(tree))
    return (frozenset(n.id for n in nodes if isinstance(n, ast.Name)),
            frozenset(r for n in nodes if not isinstance(n, ast.Name) and (r := _ref(n))))

def _defined(node:ast.stmt) -> tuple:
    "The names a top-level def, class or assignment defines; () for any other statement."
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): return (node.name,)
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
    return tuple(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))

def module_units(mod:str, src:str) -> list:
    "A module's units: each top-level def, class or assignment, and its other statements as one (imports, `__all__` and docstring left out)."
    body = ast.parse(src).body
    units, rest = [], []
    for node in body[1:] if body and _is_doc(body[0]) else body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or '__all__' in (names := _defined(node)): continue
        if names: units.append(Unit(mod, names, ast.dump(s := _strip(node)), *_refs(s)))
        else: rest.append(_strip(node))
    if rest: units.append(Unit(mod, (), ast.dump(m := ast.Module(rest, [])), *_refs(m)))
    return units

@functools.lru_cache(maxsize=8)
def _index(files:tuple, scripts:tuple) -> tuple:
    "Units by the names they define (and by the console scripts that run them), and by module."
    by_name, by_mod = defaultdict(list), defaultdict(list)
    for mod, src in files:
        for u in module_units(mod, src):
            by_mod[mod].append(u)
            for n in u.names: by_name[n].append(u)
    for script, target in scripts:
        mod, fn = target.removeprefix('facefake.').split(':')
        by_name[script] += [u for u in by_name.get(fn, []) if u.module == mod]
    return dict(by_name), dict(by_mod)

def _scripts(text:str) -> dict:
    "The `[project.scripts]` table of a pyproject.toml (tomllib where there is one: Python 3.11 on; else the plain `name = \"target\"` lines)."
    try: import tomllib
    except ImportError:
        part = re.search(r'^\[project\.scripts\]\s*$(.*?)(?=^\[|\Z)', text, re.M | re.S)
        return dict(re.findall(r'^\s*([\w-]+)\s*=\s*"([^"]+)"', part.group(1), re.M)) if part else {}
    return tomllib.loads(text).get('project', {}).get('scripts', {})

def package(pkg:Path=PKG) -> tuple:
    "The package's units (`_index`) from its modules and the console scripts in the pyproject.toml beside it."
    files = tuple((p.stem, p.read_text()) for p in sorted(pkg.glob('*.py')) if p.name != '_modidx.py')
    toml = pkg.parent/'pyproject.toml'
    scripts = _scripts(toml.read_text()) if toml.exists() else {}
    return _index(files, tuple(sorted(scripts.items())))

def meanings(by_name:dict, mod:str, bare:set, refs:set) -> list:
    "The units that names mentioned in module `mod` may mean: for a bare name, `mod`'s own unit if it has one, else any."
    found = [u for n in refs for u in by_name.get(n, [])]
    for n in bare: found += [u for u in by_name.get(n, []) if u.module == mod] or by_name.get(n, [])
    return found

def roots(nb:dict) -> tuple:
    "A notebook's `default_exp` modules, and what its code cells name: bare names, and other names (`!facefake-*` commands too)."
    mods, bare, refs = [], set(), set()
    for src in _code_cells(nb):
        mods += re.findall(r'^#\|\s*default_exp\s+(\S+)', src, re.M)
        refs |= {w for l in src.splitlines() if l.lstrip().startswith('!') for w in re.findall(r'facefake-[\w-]+', l)}
        try: b, r = _refs(ast.parse(_python(src)))
        except SyntaxError: continue
        bare |= b; refs |= r
    return mods, bare, refs

def reached(nb:dict, pkg:Path=PKG) -> list:
    "Every unit a notebook's outputs can depend on: those its cells reach, what they name in turn, their modules' side effects."
    by_name, by_mod = package(pkg)
    mods, bare, refs = roots(nb)   # an exporting notebook's cells run as its module: their bare names are its globals
    todo = [u for m in mods for u in by_mod.get(m, [])] + meanings(by_name, mods[0] if mods else None, bare, refs)
    seen = set()   # units compare by identity: two alike in two modules are two
    while todo:
        u = todo.pop()
        if u in seen: continue
        seen.add(u)
        todo += meanings(by_name, u.module, u.bare, u.refs) + [v for v in by_mod[u.module] if not v.names]
    return sorted(seen, key=str)

def notebook_modules(nb:dict, pkg:Path=PKG) -> set: return {u.module for u in reached(nb, pkg)}

def cell_code(src:str) -> str:
    "A code cell as it runs: its `ast.dump` without docstrings, plus its `#|` directives and shell/magic lines; as written if it does not parse."
    try: tree = ast.parse(_python(src))
    except SyntaxError: return src
    kept = [l.strip() for l in src.splitlines() if l.lstrip().startswith(('#|', '!', '%'))]
    return ast.dump(_strip(tree)) + '\n' + '\n'.join(kept)

def sources_hash(nb:dict, pkg:Path=PKG) -> str:
    "SHA-256 of a notebook's code cells and of every unit it reaches, both as code: without docstrings, comments or formatting."
    h = hashlib.sha256()
    for src in _code_cells(nb): h.update(cell_code(src).encode() + b'\0')
    for code in sorted(u.code for u in reached(nb, pkg)): h.update(code.encode() + b'\0')
    return h.hexdigest()

def has_outputs(nb:dict) -> bool: return any(c.get('outputs') for c in nb['cells'] if c['cell_type'] == 'code')

def notebooks(root:Path=NBS) -> list: return sorted(p for p in root.rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)

def stale(path:Path, pkg:Path=PKG) -> str:
    "Why a notebook's stored outputs cannot be trusted, or '' when they can."
    nb = json.loads(path.read_text())
    if not has_outputs(nb): return ''
    stamp = nb.get('metadata', {}).get(KEY, {})
    if not stamp.get('code'):
        return 'holds outputs but no record of the code that produced them' + (' (only an old `sources` stamp)' if stamp.get('sources') else '')
    if stamp['code'] != sources_hash(nb, pkg):
        return (f"outputs came from other code ({stamp.get('form', '?')} form stored): its cells or what it reaches in "
                f"{', '.join(sorted(notebook_modules(nb, pkg)))} changed since")
    return ''

def why(path:Path, pkg:Path=PKG) -> int:
    "Print the units (module.name) a notebook reaches: the package code its outputs depend on."
    for u in reached(json.loads(Path(path).read_text()), pkg): print(u)
    return 0

LEARN = re.compile(r'what you will learn|in this chapter you will', re.I)
EXERCISES = re.compile(r'^#+\s*(exercises|questionnaire)', re.I | re.M)

def chapter_problems(path:Path) -> list:
    "A course chapter teaches with the library: no exports, an opening that says what you will learn, exercises."
    nb = json.loads(path.read_text())
    cells = nb['cells']
    bad = [f"{path.name}: course chapters export nothing (cell {i} is `#| export`)" for i, c in enumerate(cells)
           if c['cell_type'] == 'code' and re.search(r'^#\|\s*(export|exporti|default_exp)\b', ''.join(c['source']), re.M)]
    md = [''.join(c['source']) for c in cells if c['cell_type'] == 'markdown']
    if not any(LEARN.search(s) for s in md[:3]): bad.append(f"{path.name}: no 'What you will learn' among its first cells")
    if not any(EXERCISES.search(s) for s in md): bad.append(f"{path.name}: no Exercises or Questionnaire section")
    return bad

MAX_MIB = 5.6   # everything under nbs/ together (outputs included): the docs stay light, `du -sh nbs` under 6 MB

def size_problems(nbs:Path) -> list:
    "nbs/ over `MAX_MIB`, with its largest notebooks."
    files = [p for p in nbs.rglob('*') if p.is_file() and '.ipynb_checkpoints' not in p.parts]
    total = sum(p.stat().st_size for p in files) / 2**20
    if total <= MAX_MIB: return []
    top = ', '.join(f"{p.relative_to(nbs)} ({p.stat().st_size // 1024} KB)" for p in sorted(files, key=lambda p: -p.stat().st_size)[:5])
    return [f"nbs/ holds {total:.2f} MiB, over {MAX_MIB} MiB: store smaller figures (photo_figures(dpi=...)); largest: {top}"]

def check(root:Path=ROOT) -> int:
    "Print every stale notebook and every course chapter out of shape under `root`, and nbs/ over its size; 1 if there is any, else 0."
    pkg, nbs = root/'facefake', root/'nbs'
    probs = [f"{p.relative_to(root)}: {why}" for p in notebooks(nbs) if (why := stale(p, pkg))]
    probs += [b for p in notebooks(nbs/'course') for b in chapter_problems(p)] + size_problems(nbs)
    for p in probs: print('FAILED:', p)
    if probs:
        print("run the stale notebooks again with: python tools/nbstate.py run NOTEBOOK [--full]")
        return 1
    print(f"== stored outputs: every notebook's outputs come from the current code ({len(notebooks(nbs))} notebooks)")
    return 0

def run(paths:list, full:bool=False) -> int:
    "Run each notebook (quick or full form), save its outputs, clean it and stamp the code that produced them."
    bin_ = Path(sys.executable).parent
    for p in map(Path, paths):
        p = p.resolve()
        before = sources_hash(json.loads(p.read_text()))
        env = dict(os.environ, FACEFAKE_FULL='1' if full else '0')
        r = subprocess.run([str(bin_/'nbdev-test'), str(p), '--save', '--n-workers', '1', '--do-print'], cwd=ROOT, env=env)
        if r.returncode: print(f"FAILED: {p.name} did not run; nothing stamped"); return r.returncode
        subprocess.run([str(bin_/'nbdev-clean'), '--fname', str(p)], cwd=ROOT, check=True)
        nb = json.loads(p.read_text())
        if sources_hash(nb) != before: print(f"FAILED: {p.name} or a module changed during the run; run it again"); return 1
        nb.setdefault('metadata', {})[KEY] = dict(code=before, form='full' if full else 'quick')
        p.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + '\n')
        subprocess.run([str(bin_/'nbdev-clean'), '--fname', str(p)], cwd=ROOT, check=True)
        print(f"== {p.relative_to(ROOT)}: outputs saved ({'full' if full else 'quick'} form), code {before[:12]}")
    return 0

if __name__ == '__main__':
    args = sys.argv[1:]
    if args[:1] == ['check']: sys.exit(check())
    if args[:1] == ['why'] and len(args) == 2: sys.exit(why(args[1]))
    if args[:1] == ['run'] and len(args) > 1: sys.exit(run([a for a in args[1:] if a != '--full'], full='--full' in args))
    print(__doc__); sys.exit(2)
