"""With only the refer-API files on disk, the first run names the exact command that
builds the generation vocabulary, and that command makes the config build."""
import os
import os.path as osp
import runpy
import shlex
import shutil
import sys

import pytest
from mmengine.config import Config

from mmrefmutual.models.language.vocab import missing_vocab_message
from mmrefmutual.registry import MODELS
from mmrefmutual.utils import register_all_modules

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# one config per dataset base (each has its own vocab_file), and a word that only the
# training expressions of its refs file have (tests/test_datasets/conftest.py)
CONFIGS = {'refcoco_step1_joint.py': 'left', 'refcoco+_step1_joint.py': 'naive',
           'refcocog_step1_joint.py': 'dogs', 'refcocog_google_step1_joint.py': 'middle'}


@pytest.fixture
def refer_api_files_only(refer_data, tmp_path, monkeypatch):
    """A working directory holding data/<dataset>/refs(...).p and nothing else."""
    for refs_file in refer_data.refs_files:
        dataset = osp.basename(osp.dirname(refs_file))
        os.makedirs(tmp_path / 'data' / dataset, exist_ok=True)
        shutil.copy(refs_file, tmp_path / 'data' / dataset)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_command(command: str) -> None:
    """Run ``python tools/dataset_converters/build_vocab.py ARGS`` in this process."""
    words = shlex.split(command)
    assert words[:2] == ['python', 'tools/dataset_converters/build_vocab.py'], command
    argv = sys.argv
    sys.argv = [osp.join(REPO, words[1])] + words[2:]
    try:
        runpy.run_path(sys.argv[0], run_name='__main__')
    finally:
        sys.argv = argv


@pytest.mark.parametrize('name', CONFIGS)
def test_first_run_names_the_vocabulary_command(name, refer_api_files_only):
    register_all_modules()
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'mutual', name))
    vocab_file = cfg.model.generation_head.vocab
    with pytest.raises(FileNotFoundError, match='not found') as info:
        MODELS.build(cfg.model.generation_head)
    command = info.value.args[0].splitlines()[-1].strip()
    # the refs file the config trains on, its training split, the config's vocab file
    dataset = cfg.train_dataloader.dataset
    refs_file = osp.join(dataset.data_root, dataset.split_file)
    assert shlex.split(command)[2:] == [refs_file, '--split', 'train', '--out', vocab_file]
    run_command(command)
    head = MODELS.build(cfg.model.generation_head)
    assert CONFIGS[name] in head.vocab.index
    assert not set(CONFIGS.values()) - {CONFIGS[name]} & set(head.vocab.index)


def test_partition_of_each_vocabulary_name(refer_data):
    folder = osp.join(refer_data.data_root, 'refcocog')
    assert "'" + osp.join(folder, 'refs(umd).p') + "'" in missing_vocab_message(
        osp.join(folder, 'vocab.txt'))
    assert "'" + osp.join(folder, 'refs(google).p') + "'" in missing_vocab_message(
        osp.join(folder, 'vocab_google.txt'))
