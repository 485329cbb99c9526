import pytest

from tests.testapp import campaign_steps


@pytest.fixture(autouse=True)
def _example_steps():
    campaign_steps.reset()
    yield campaign_steps
    campaign_steps.reset()
