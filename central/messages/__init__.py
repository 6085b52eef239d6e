"""Reason codes and what they mean in plain language.

``codes`` turns what an agent reported (a failed check, a health poll) into a reason code such as
``codec.unregistered``; ``catalogue`` gives each code, check, role and site a short text in zh-CN
and en from JSON catalogues, with what to do. Raw driver text is never the message: it stays as the
engineer's evidence.
"""
