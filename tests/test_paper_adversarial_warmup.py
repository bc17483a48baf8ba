"""AdversarialWarmup (AdaptSegNet-style output-space warm-up): LSGAN math, the two
optimisers built per child module, and which network each loss updates."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.structures import SegDataSample

import cpsl_mmseg  # noqa: F401
from cpsl_mmseg.models.segmentors.adversarial_warmup import least_squares_gan_loss

init_default_scope('mmseg')

SEGMENTOR = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[0., 0., 0.],
                           std=[1., 1., 1.], size=(32, 32)),
    backbone=dict(type='ResNet', depth=18, base_channels=8, stem_channels=8,
                  out_indices=(3, ), dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
                  norm_cfg=dict(type='BN', requires_grad=False), norm_eval=True),
    decode_head=dict(type='DeepLabV2SEHead', in_channels=64, in_index=0, channels=16,
                     norm_cfg=dict(type='GN', num_groups=4, requires_grad=True),
                     num_classes=3, loss_decode=dict(type='CrossEntropyLoss')),
    train_cfg=dict(), test_cfg=dict(mode='whole'))
OPTIM = dict(
    student=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1),
                 paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.)})),
    discriminator=dict(type='OptimWrapper',
                       optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99))))


def build(weight=0.01):
    torch.manual_seed(0)
    return MODELS.build(dict(type='AdversarialWarmup', segmentor=copy.deepcopy(SEGMENTOR),
                             discriminator=dict(type='OutputSpaceDiscriminator',
                                                base_channels=4),
                             adversarial_weight=weight))


def optimisers(model):
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='SubmoduleOptimWrapperConstructor', optim_wrapper_cfg=copy.deepcopy(OPTIM)))
    return constructor(model)


def paired_batch():
    gen = torch.Generator().manual_seed(1)

    def stream(labelled):
        inputs, data_samples = [], []
        for _ in range(2):
            inputs.append(torch.randint(0, 255, (3, 32, 32), generator=gen,
                                        dtype=torch.uint8))
            sample = SegDataSample()
            sample.set_metainfo(dict(img_shape=(32, 32), ori_shape=(32, 32)))
            if labelled:
                sample.gt_sem_seg = PixelData(
                    data=torch.randint(0, 3, (1, 32, 32), generator=gen))
            data_samples.append(sample)
        return dict(inputs=inputs, data_samples=data_samples)

    return dict(source=stream(True), target=stream(False))


def test_least_squares_gan_loss():
    scores = torch.tensor([[[[0.5, 1.5]]]])
    assert least_squares_gan_loss(scores, 1.0).item() == pytest.approx(0.25)
    assert least_squares_gan_loss(scores, 0.0).item() == pytest.approx(1.25)


def test_constructor_builds_one_optimiser_per_child():
    model = build()
    wrappers = optimisers(model)
    assert isinstance(wrappers, OptimWrapperDict)
    assert set(wrappers.keys()) == {'student', 'discriminator'}
    assert isinstance(wrappers['discriminator'].optimizer, torch.optim.Adam)
    seg_params = {id(p) for g in wrappers['student'].optimizer.param_groups
                  for p in g['params']}
    assert seg_params == {id(p) for p in model.student.parameters() if p.requires_grad}
    lrs = sorted({round(g['lr'], 6) for g in wrappers['student'].optimizer.param_groups})
    assert lrs == [0.1, 1.0]  # decode head at 10x
    with pytest.raises(KeyError, match='optim_wrapper.generator'):
        OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
            type='SubmoduleOptimWrapperConstructor',
            optim_wrapper_cfg=dict(generator=OPTIM['student'])))(model)


def test_train_step_updates_each_network_with_its_own_loss():
    model = build()
    wrappers = optimisers(model)
    d_before = copy.deepcopy(model.discriminator.state_dict())
    seen = {}
    update_d = wrappers['discriminator'].update_params

    def spy(loss, **kwargs):
        # the segmentor's adversarial loss must leave no gradient in D
        seen['leak'] = [p.grad for p in model.discriminator.parameters()
                        if p.grad is not None and p.grad.abs().sum() > 0]
        return update_d(loss, **kwargs)

    wrappers['discriminator'].update_params = spy
    log = model.train_step(paired_batch(), wrappers)
    assert {'loss', 'src.loss_ce', 'src.acc_seg', 'loss_adv', 'loss_d'} <= set(log)
    assert seen['leak'] == []
    assert all(p.requires_grad for p in model.discriminator.parameters())
    assert any(not torch.equal(v, d_before[k])
               for k, v in model.discriminator.state_dict().items())

    # the adversarial term changes the segmentor's update
    updated = {}
    for weight in (0.0, 1.0):
        other = build(weight)
        other.train_step(paired_batch(), optimisers(other))
        updated[weight] = other.student.decode_head.conv_seg.weight.detach()
    assert not torch.allclose(updated[0.0], updated[1.0])


def test_train_step_needs_both_optimisers_and_paired_batches():
    model = build()
    single = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TypeError, match="'student' and 'discriminator'"):
        model.train_step(paired_batch(), single)
    with pytest.raises(TypeError, match='paired source/target'):
        model.train_step(paired_batch()['source'], optimisers(model))
