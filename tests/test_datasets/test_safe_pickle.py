import os
import pickle
import pickletools

import pytest

from mmrefmutual.datasets.safe_pickle import (UnsafePickleError, safe_load_pickle,
                                              safe_loads_pickle)


class _System:
    """Pickles into a call of os.system when loaded."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command, ))


class _Open:
    """Pickles into a call of open(path, 'w') when loaded: creates the file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


class _PlainObject:
    pass


def _names_globals(data):
    return any(op.name in ('GLOBAL', 'STACK_GLOBAL', 'INST', 'OBJ')
               for op, _, _ in pickletools.genops(data))


@pytest.mark.parametrize('protocol', [0, 2, 4])
def test_plain_data_loads(tmp_path, refer_data, protocol):
    path = tmp_path / 'refs.p'
    path.write_bytes(pickle.dumps(refer_data.refs_unc, protocol=protocol))
    assert safe_load_pickle(str(path)) == refer_data.refs_unc


def test_python2_pickle_is_decoded(py2_pickle_dumps):
    data = py2_pickle_dumps([{b'raw': b'caf\xc3\xa9', b'sent': 'na\xefve', b'id': 70000,
                              b'score': 0.5, b'ok': True, b'none': None}])
    ops = {op.name for op, _, _ in pickletools.genops(data)}
    assert {'SHORT_BINSTRING', 'BINUNICODE'} <= ops and not _names_globals(data)
    assert safe_loads_pickle(data) == [
        {'raw': 'café', 'sent': 'naïve', 'id': 70000, 'score': 0.5, 'ok': True, 'none': None}]
    # a py2 str that is not UTF-8 falls back to latin-1 instead of failing
    assert safe_loads_pickle(py2_pickle_dumps([b'caf\xe9'])) == ['café']


def test_open_payload_is_refused_and_not_run(tmp_path):
    marker = tmp_path / 'created_by_pickle'
    payload = pickle.dumps({'refs': [1, _Open(str(marker))]}, protocol=2)
    with pytest.raises(UnsafePickleError, match=r'global io\.open'):
        safe_loads_pickle(payload)
    assert not marker.exists()
    # the payload is live: a plain pickle.loads does create the file
    pickle.loads(payload).get('refs')[1].close()
    assert marker.exists()


@pytest.mark.parametrize('protocol', [0, 2, 5])
def test_system_payload_is_refused_and_not_run(tmp_path, protocol):
    marker = tmp_path / f'marker{protocol}'
    path = tmp_path / 'evil.p'
    path.write_bytes(pickle.dumps([_System(f'touch {marker}')], protocol=protocol))
    with pytest.raises(UnsafePickleError) as info:
        safe_load_pickle(str(path))
    assert 'system' in str(info.value) and str(path) in str(info.value)
    assert isinstance(info.value, pickle.UnpicklingError)
    assert not marker.exists()


def test_copyreg_and_builtin_globals_are_refused():
    # a plain object pickles through copyreg._reconstructor (protocol 0/1)
    with pytest.raises(UnsafePickleError, match=r'global copy_reg\._reconstructor'):
        safe_loads_pickle(pickle.dumps(_PlainObject(), protocol=0))
    with pytest.raises(UnsafePickleError, match='set'):
        safe_loads_pickle(pickle.dumps({1, 2}, protocol=2))


def test_garbage_is_an_unpickling_error():
    with pytest.raises(pickle.UnpicklingError, match='<bytes>'):
        safe_loads_pickle(b'not a pickle')


def test_python2_protocol0_pickle():
    # STRING (py2 str) and UNICODE opcodes, as py2 `cPickle.dumps([{'raw': 'caf\xc3\xa9', 'id': 3, u'u': u'x'}])` writes
    data = (b"(lp0\n(dp1\nS'raw'\np2\nS'caf\\xc3\\xa9'\np3\nsS'id'\np4\nI3\n"
            b"sVu\np5\nVx\np6\nsa.")
    assert safe_loads_pickle(data) == [{'raw': 'café', 'id': 3, 'u': 'x'}]
