from .match_costs import ForegroundCost
from .rewards import UnambiguityCiderReward

__all__ = ['ForegroundCost', 'UnambiguityCiderReward']
