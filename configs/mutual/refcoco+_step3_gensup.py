# Step 3 on RefCOCO+: generation supervision (REG -> RES). The step-2 model describes the
# unannotated COCO instances; the whole network is re-trained as in step 1 (same
# initialisation, same schedule) on human + generated refs.
# 8 GPUs x 1 image: tools/dist_train.sh configs/mutual/refcoco+_step3_gensup.py 8
_base_ = [
    '../_base_/models/refmutual_r101.py', '../_base_/datasets/refcoco+.py',
    '../_base_/schedules/step3_gensup_90k.py', '../_base_/default_runtime.py'
]
model = dict(generation_head=dict(vocab={{_base_.vocab_file}}))
# a variable, so that variants (Fig. 5, Table 7) write dict(_base_.generation_supervision, ...)
generation_supervision = dict(_base_.generation_supervision,
                              checkpoint='work_dirs/refcoco+_step2_rl/iter_20000.pth')
custom_hooks = [
    dict(type='MutualSupervisionHook', generation_supervision=generation_supervision)
]
