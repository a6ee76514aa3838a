variable "aws_endpoint_url" {
  description = "The AWS emulator every API call goes to, e.g. the moto server of the local stack (http://127.0.0.1:<port>)."
  type        = string

  validation {
    condition     = can(regex("^https?://(127\\.0\\.0\\.1|localhost)(:[0-9]+)?/?$", var.aws_endpoint_url))
    error_message = "aws_endpoint_url must point at a local emulator (http://127.0.0.1:<port> or http://localhost:<port>): this example is never meant to reach AWS."
  }
}

variable "region" {
  description = "Region the emulator pretends to be."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Prefix of bucket, queue and rule names."
  type        = string
  default     = "siteveil-local"
}
