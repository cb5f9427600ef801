from .detectors import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .language import *  # noqa: F401,F403
from .task_modules import *  # noqa: F401,F403
from .wrappers import DeviceAwareDDP  # noqa: F401
