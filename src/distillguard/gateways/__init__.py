"""Gateway adapters: a LiteLLM guardrail and logger (Envoy ext_authz lives in ``serve``).

The LiteLLM modules import ``litellm`` and are loaded by the proxy by path
(``distillguard.gateways.litellm_guardrail.DistillguardGuardrail``); install the
``litellm`` extra in the proxy's environment.
"""
