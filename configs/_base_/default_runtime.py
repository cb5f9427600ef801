default_scope = 'mmrefmutual'
# checkpoints written by mmengine/mmdet load, nothing else runs (mmrefmutual/engine/runner.py)
runner_type = 'mmrefmutual.RefRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'),
    # checkpoints as plain containers + tensors, so that --resume works with
    # torch.load(weights_only=True) (torch >= 2.6); see mmrefmutual/utils/checkpoint.py
    plain_checkpoint=dict(type='PlainCheckpointHook'),
    # where the extractor's weights come from (step 0 without the evaluation images, or
    # not), carried in every checkpoint for tools/test.py; a Mask2Former checkpoint of
    # another class count (mmdet's panoptic Swin-B) loads without its class head
    pretrained_extractor=dict(type='PretrainedExtractorHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # NCCL on GPUs; tools/train.py switches to gloo where there is no GPU.
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
