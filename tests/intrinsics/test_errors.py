"""The exception hierarchy and what the errors carry."""

from __future__ import annotations

import intrinsics
from intrinsics import errors


def test_hierarchy():
    output_errors = [
        errors.NotJSONError,
        errors.TruncatedOutputError,
        errors.SchemaViolationError,
        errors.MissingFieldError,
        errors.MissingLogprobsError,
        errors.TokenNotFoundError,
        errors.NoCategoryMatchedError,
        errors.TransformError,
    ]
    for cls in output_errors:
        assert issubclass(cls, errors.OutputError) and issubclass(cls, errors.IntrinsicError)
    assert issubclass(errors.MissingFieldError, errors.SchemaViolationError)
    for cls in (errors.ConfigError, errors.RequestError, errors.OutputError):
        assert issubclass(cls, errors.IntrinsicError) and not issubclass(cls, (ValueError, KeyError))
    assert set(errors.__all__) <= set(intrinsics.__all__)
    # The module docstring draws the whole tree.
    for name in errors.__all__:
        assert name in errors.__doc__


def test_output_error_carries_raw_text_and_choice():
    error = errors.NotJSONError("not JSON", raw="x" * 500)
    assert error.raw == "x" * 500 and error.choice_index is None
    assert len(str(error)) < 300 and str(error).endswith("...')")
    error.at_choice(3)
    assert error.choice_index == 3 and str(error).startswith("choice 3: not JSON")


def test_config_and_request_error_fields():
    error = errors.ConfigError("/x/io.yaml", "transformations[0].type", "bad")
    assert (error.file, error.key, error.what) == ("/x/io.yaml", "transformations[0].type", "bad")
    assert str(error) == "/x/io.yaml: key 'transformations[0].type': bad"
    assert str(errors.ConfigError(None, None, "bad")) == "<config>: bad"
    request_error = errors.RequestError("must be a non-empty list", "messages")
    assert request_error.field == "messages" and str(request_error) == "messages: must be a non-empty list"
