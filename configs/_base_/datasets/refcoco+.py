_base_ = './refcoco.py'
# RefCOCO+ (UNC partition): no location words in the expressions.
split_file = 'refcoco+/refs(unc).p'
vocab_file = 'data/refcoco+/vocab.txt'
ann_file = 'refcoco+/instances.json'
train_dataloader = dict(dataset=dict(ann_file=ann_file, split_file=split_file))
val_dataloader = dict(dataset=dict(ann_file=ann_file, split_file=split_file))
test_dataloader = val_dataloader
