from .indicated_generation_head import IndicatedGenerationHead
from .proposal_head import ProposalMask2FormerHead
from .proposal_selection_head import ProposalSelectionHead

__all__ = ['IndicatedGenerationHead', 'ProposalMask2FormerHead', 'ProposalSelectionHead']
