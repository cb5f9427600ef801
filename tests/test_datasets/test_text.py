import pytest

from mmrefmutual.datasets.text import normalize_expression


@pytest.mark.parametrize('raw, expected', [
    ('Man on the LEFT!', 'man on the left'),
    ('the café guy', 'the cafe guy'),
    ('Zoë\'s  naïve\tdog,right-most', 'zoe s naive dog right most'),
    ('ＦＵＬＬ width ①', 'full width 1'),      # NFKD folds compatibility forms
    ('2nd car (blue)', '2nd car blue'),
    ('???', ''),
    ('   ', ''),
    ('汽车', ''),                                # nothing ASCII is left
])
def test_normalize_expression(raw, expected):
    assert normalize_expression(raw) == expected


def test_truncation_and_bytes():
    assert normalize_expression('a b c d e f', max_words=4) == 'a b c d'
    assert normalize_expression('A  b', max_words=4) == 'a b'
    assert normalize_expression('caf\xc3\xa9 Car'.encode('latin-1')) == 'cafe car'  # utf-8 bytes
    assert normalize_expression(b'caf\xe9 car') == 'cafe car'                       # latin-1 bytes
    with pytest.raises(ValueError):
        normalize_expression('a', max_words=0)
