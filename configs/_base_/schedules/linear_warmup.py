# A linear learning-rate warm-up for any schedule (DAFormer / MIC: from 1e-6 of the
# rate over the first 1,500 iterations). It overlaps the schedule's own decay from
# iteration 0 and mmengine multiplies the two, which is mmcv's warm-up (the rate at
# iteration t is warm-up factor x poly factor):
#   _base_ = [..., '<this file>']
#   param_scheduler = [_base_.linear_warmup, *_base_.param_scheduler]
linear_warmup = dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
                     end=1500)
