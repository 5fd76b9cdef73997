"""Root conftest: loads the suite's plugin (fixtures, markers, tiers, Hypothesis profile).

Everything lives in killmatrix/plugins/suite_plugin.py so that an installed killmatrix runs the suite the same
way without this file (`check` passes `-p killmatrix.plugins.suite_plugin`).
"""

pytest_plugins = ["killmatrix.plugins.suite_plugin"]
