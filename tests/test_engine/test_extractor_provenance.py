"""Where the extractor comes from, as checkpoints pass it on (step 0 -> 1 -> 2 -> 3)."""
from mmrefmutual.engine.hooks import extractor_provenance

STEP0_META = dict(dataset_meta=dict(classes=('a', ), extractor_pretrain=dict(
    evaluation_images_excluded=600, images=3400, protected_refs_files=[])),
    # a pre-training run records where its own weights started, too
    extractor_provenance=dict(clean=True, source='no extractor checkpoint'))


def test_a_step0_checkpoint_is_known_by_its_training_data():
    prov = extractor_provenance(dict(meta=STEP0_META), 'step0.pth')
    assert prov['clean'] and prov['source'] == 'ExtractorPretrainDataset'
    assert prov['evaluation_images_excluded'] == 600 and prov['checkpoint'] == 'step0.pth'


def test_later_steps_pass_the_record_on_and_foreign_files_are_flagged():
    step1 = dict(meta=dict(dataset_meta=dict(classes=('a', )), extractor_provenance=dict(
        extractor_provenance(dict(meta=STEP0_META), 'step0.pth'))))
    assert extractor_provenance(step1)['source'] == 'ExtractorPretrainDataset'
    zoo = extractor_provenance(dict(state_dict={}, meta=dict(mmdet_version='3.3.0')), 'zoo.pth')
    assert zoo['clean'] is False and 'zoo.pth' in zoo['warning']
    assert extractor_provenance(None)['clean'] is True  # nothing loaded: nothing leaked
