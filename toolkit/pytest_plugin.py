"""The toolkit's ``pytest11`` entry point: the fixtures of :mod:`toolkit.testing` when the
test extras are installed (``pip install 'redriva-toolkit[test]'``). Without them
(pytest-asyncio missing, e.g. the toolkit installed in Redriva's virtualenv beside Redriva's
own pytest), nothing: installing the toolkit never breaks another project's test run."""
import importlib.util

if importlib.util.find_spec("pytest_asyncio") is not None:
    # pytest collects fixtures and hooks from this module's names
    from toolkit.testing import *  # noqa: F401,F403
