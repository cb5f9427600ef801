# Step 1 on RefCOCOg (Google partition), the REG benchmark split (Table 1, val-g).
_base_ = './refcocog_step1_joint.py'
split_file = 'refcocog/refs(google).p'
train_dataloader = dict(dataset=dict(split_file=split_file))
val_dataloader = dict(dataset=dict(split_file=split_file))
test_dataloader = val_dataloader
model = dict(generation_head=dict(vocab='data/refcocog/vocab_google.txt'))
