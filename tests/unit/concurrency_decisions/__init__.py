"""Lost decisions under concurrency: real processes applying workbooks and deciding disputes."""
