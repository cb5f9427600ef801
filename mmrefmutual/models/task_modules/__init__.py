from .rewards import UnambiguityCiderReward

__all__ = ['UnambiguityCiderReward']
