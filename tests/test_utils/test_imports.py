"""The package's import graph: every module (of the library and of the bench beside it)
imports on its own, the engine (the training machinery) never reaches the user-facing API,
and the library never reaches the bench."""
import ast
import os
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PACKAGE = osp.join(REPO, 'mmrefmutual')
BENCH = osp.join(REPO, 'mmrefmutual_bench')


def _modules(packages=(PACKAGE, BENCH)):
    for folder, _, files in (walked for package in packages for walked in os.walk(package)):
        for name in sorted(files):
            if name.endswith('.py'):
                rel = osp.relpath(osp.join(folder, name), REPO)[:-3].replace(os.sep, '.')
                yield rel[:-len('.__init__')] if rel.endswith('.__init__') else rel


def _imports(path):
    """Every module an ``import`` names in a file, also inside functions."""
    tree = ast.parse(open(path, encoding='utf-8').read())
    base = osp.relpath(osp.dirname(path), REPO).replace(os.sep, '.')
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                parts = base.split('.')[:len(base.split('.')) - node.level + 1]
                yield '.'.join(parts + ([node.module] if node.module else []))
            else:
                yield node.module


def _python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter on this checkout."""
    return subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=REPO))


def test_every_module_imports_on_its_own():
    # what is not ours (torch, mmcv, mmengine, mmdet) is imported once; each module of ours
    # is then imported in a fork of that interpreter, which holds nothing of ours yet
    code = '\n'.join([
        'import importlib, os, sys',
        'import torch, mmcv, mmengine, mmdet.models, mmdet.datasets, mmdet.engine',
        'import transformers',
        f'modules = {list(_modules())!r}',
        'failed = []',
        'for name in modules:',
        '    read, write = os.pipe()',
        '    pid = os.fork()',
        '    if pid == 0:',
        '        os.close(read)',
        '        try:',
        '            importlib.import_module(name)',
        '            os._exit(0)',
        '        except BaseException as err:',
        '            os.write(write, f"{name}: {type(err).__name__}: {err}".encode()[:2000])',
        '            os._exit(1)',
        '    os.close(write)',
        '    message = os.read(read, 4096).decode()',
        '    os.close(read)',
        '    if os.waitpid(pid, 0)[1] != 0:',
        '        failed.append(message or name)',
        'print("\\n".join(failed))',
        'sys.exit(1 if failed else 0)'])
    run = _python(code)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


def test_engine_never_imports_the_api():
    offenders = []
    for folder, _, files in os.walk(osp.join(PACKAGE, 'engine')):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                offenders += [f'{osp.relpath(path, REPO)} imports {m}' for m in _imports(path)
                              if m and m.startswith('mmrefmutual.apis')]
    assert offenders == [], offenders
    code = ('import sys, mmrefmutual.engine, mmrefmutual.engine.generation_supervision\n'
            'assert not [m for m in sys.modules if m.startswith("mmrefmutual.apis")]\n')
    run = _python(code)
    assert run.returncode == 0, run.stderr[-2000:]


def _library_files():
    """The library's files: every module but the apps (the web pages of the human study and
    of the demo, which may use the bench)."""
    for folder, subfolders, files in os.walk(PACKAGE):
        subfolders[:] = [name for name in subfolders if name != 'apps']
        yield from (osp.join(folder, name) for name in sorted(files) if name.endswith('.py'))


def test_library_never_imports_the_bench():
    offenders = [f'{osp.relpath(path, REPO)} imports {m}' for path in _library_files()
                 for m in _imports(path) if m and m.split('.')[0] == 'mmrefmutual_bench']
    assert offenders == [], offenders
    library = [m for m in _modules((PACKAGE, )) if not m.startswith('mmrefmutual.apps')]
    assert 'mmrefmutual.evaluation.metrics.reg_metric' in library
    code = '\n'.join([
        'import importlib, sys',
        f'for name in {library!r}:',
        '    importlib.import_module(name)',
        'from mmrefmutual.utils import register_all_modules',
        'register_all_modules()',
        'bench = [m for m in sys.modules if m.split(".")[0] == "mmrefmutual_bench"]',
        'assert not bench, bench'])
    run = _python(code)
    assert run.returncode == 0, run.stderr[-2000:]
