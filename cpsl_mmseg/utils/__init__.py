"""Small utilities shared by tools and components."""
from .launch import finish_distributed, prepare_launch

__all__ = ['finish_distributed', 'prepare_launch']
