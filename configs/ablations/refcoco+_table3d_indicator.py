# Table 3 (d), REG ablation on RefCOCO+ testB: (c) + the indicator module, i.e. step 1
# (configs/mutual/refcoco+_step1_joint.py, whose checkpoint this config evaluates; training
# this config again would repeat step 1). Row (e) is step 2: refcoco+_step2_rl.py.
# Evaluate: python tools/test.py configs/ablations/refcoco+_table3d_indicator.py \
#               work_dirs/refcoco+_step1_joint/iter_90000.pth
_base_ = '../mutual/refcoco+_step1_joint.py'
# the paper's test split, RefCOCO references of the same objects merged for CIDEr (Sec. 4.1)
test_dataloader = dict(dataset=dict(split='testB', merge_refs_file='refcoco/refs(unc).p'))
