"""Scope set-up, as mmdet's ``register_all_modules``."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every module of mmrefmutual (and mmdet) into the registries.

    Args:
        init_default_scope (bool): Whether to set the default scope to
            ``mmrefmutual`` so that registries look there first and then in
            their mmdet/mmengine parents.
    """
    from mmdet.utils import register_all_modules as register_mmdet
    register_mmdet(init_default_scope=False)
    import mmrefmutual.datasets  # noqa: F401,F811
    import mmrefmutual.engine  # noqa: F401,F811
    import mmrefmutual.evaluation  # noqa: F401,F811
    import mmrefmutual.models  # noqa: F401,F811
    import mmrefmutual.visualization  # noqa: F401,F811
    if init_default_scope:
        never_created = DefaultScope.get_current_instance() is None \
            or not DefaultScope.check_instance_created('mmrefmutual')
        if never_created:
            DefaultScope.get_instance('mmrefmutual', scope_name='mmrefmutual')
            return
        current_scope = DefaultScope.get_current_instance()
        if current_scope.scope_name != 'mmrefmutual':
            warnings.warn('The current default scope '
                          f'"{current_scope.scope_name}" is not "mmrefmutual", '
                          '`register_all_modules` will force the current'
                          'default scope to be "mmrefmutual". If this is not '
                          'expected, please set `init_default_scope=False`.')
            new_instance_name = f'mmrefmutual-{datetime.datetime.now()}'
            DefaultScope.get_instance(new_instance_name, scope_name='mmrefmutual')
