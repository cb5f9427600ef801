import torch

from mmrefmutual.models.heads import ProposalSelectionHead


def test_shapes_padding_and_overfit():
    torch.manual_seed(0)
    head = ProposalSelectionHead(in_channels=32, text_channels=24, num_layers=2, num_heads=4,
                                 ffn_channels=64, dropout=0.0)
    proposals = torch.randn(4, 7, 32)
    text = torch.randn(4, 5, 24)
    pad = torch.zeros(4, 5, dtype=torch.bool)
    pad[1, 3:] = True
    scores = head(proposals, text, pad)
    assert scores.shape == (4, 7)
    # padded tokens are ignored: changing them does not change the scores
    text2 = text.clone()
    text2[1, 3:] = 100.0
    torch.testing.assert_close(head(proposals, text2, pad)[1], scores[1])
    targets = torch.tensor([0, 3, 6, 2])
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    losses = []
    for _ in range(60):
        loss = head.loss(head(proposals, text, pad), targets)['loss_res']
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert losses[-1] < 0.1 * losses[0]
    assert head(proposals, text, pad).argmax(-1).tolist() == targets.tolist()


def test_sample_weights_scale_loss():
    head = ProposalSelectionHead(in_channels=16, text_channels=16, num_layers=1, num_heads=2,
                                 ffn_channels=32, dropout=0.0)
    scores = torch.randn(3, 5)
    targets = torch.tensor([1, 2, 3])
    full = head.loss(scores, targets)['loss_res']
    weighted = head.loss(scores, targets, torch.tensor([1.0, 0.1, 0.1]))['loss_res']
    ce = torch.nn.functional.cross_entropy(scores, targets, reduction='none')
    torch.testing.assert_close(full, ce.mean())
    torch.testing.assert_close(weighted, (ce * torch.tensor([1.0, 0.1, 0.1])).mean())


def test_padded_forward_is_the_forward():
    """What `predict(cuda_graph=True)` replays on a GPU, run eagerly: expressions padded to
    a power of two (>= 8) and the text to a multiple of 8 tokens give the scores of the
    plain forward; on a CPU the option is ignored."""
    torch.manual_seed(0)
    head = ProposalSelectionHead(in_channels=32, text_channels=24, num_layers=2, num_heads=4,
                                 ffn_channels=64, dropout=0.0).eval()
    for m, length in ((5, 7), (1, 8), (9, 13)):
        proposals = torch.randn(m, 6, 32)
        text = torch.randn(m, length, 24)
        pad = torch.zeros(m, length, dtype=torch.bool)
        pad[0, length // 2:] = True
        ref = head(proposals, text, pad)
        scores = head._forward_padded(proposals, text, pad)
        assert scores.shape == (m, 6)
        torch.testing.assert_close(scores, ref, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(head.predict(proposals, text, pad, cuda_graph=True), ref)
    assert head._graphs.captures == 0


def test_graph_cache_is_emptied_when_the_head_moves():
    """Captured graphs point at the parameters' memory: .to() / .half() make them stale."""
    head = ProposalSelectionHead(in_channels=16, text_channels=16, num_layers=1, num_heads=2,
                                 ffn_channels=32)
    head._graphs._graphs['fake'] = ('graph', (), ())
    head.float()
    assert len(head._graphs) == 0
