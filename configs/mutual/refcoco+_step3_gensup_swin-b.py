# Swin-B variant (paper appendix C, Table 9) of refcoco+_step3_gensup.py: the RES results of
# Table 9. The Swin-B step-2 model (refcoco+_step2_rl_swin-b.py) describes the unannotated
# COCO instances; the whole network is re-trained as in step 1.
# 8 GPUs x 1 image: tools/dist_train.sh configs/mutual/refcoco+_step3_gensup_swin-b.py 8
_base_ = [
    '../_base_/models/refmutual_swin-b.py', '../_base_/datasets/refcoco+.py',
    '../_base_/schedules/step3_gensup_90k.py', '../_base_/default_runtime.py'
]
model = dict(generation_head=dict(vocab={{_base_.vocab_file}}))
generation_supervision = dict(_base_.generation_supervision,
                              checkpoint='work_dirs/refcoco+_step2_rl_swin-b/iter_20000.pth')
custom_hooks = [
    dict(type='MutualSupervisionHook', generation_supervision=generation_supervision)
]
