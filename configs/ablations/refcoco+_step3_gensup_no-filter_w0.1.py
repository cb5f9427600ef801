# Fig. 5, RefCOCO+ step 3: every unannotated instance (no filter, "All", 654k pseudo refs in the
# paper) with the pseudo weight 0.1 (reweighting). The main step 3 filters area >= 32^2.
# Evaluate (Fig. 5: mean mIoU of the three splits): python tools/test.py \
#     configs/ablations/refcoco+_step3_gensup_no-filter_w0.1.py CKPT --splits val testA testB
_base_ = '../mutual/refcoco+_step3_gensup.py'
generation_supervision = dict(_base_.generation_supervision,  # the paper's values
                              instance_filter='none', weight=0.1)
custom_hooks = [
    dict(type='MutualSupervisionHook', generation_supervision=generation_supervision)
]
