"""The customer upload & results API: presigned uploads, batches, and status/results, all state in S3."""
