"""Prompt templates (`<action>.md`, `string.Template` placeholders), read by `promptgen.prompts`."""
