"""Device, site and venue profiles: strict YAML in, resolved objects out.

Files: ``profiles/models/<model>.yaml``, ``profiles/sites/<site>.yaml``,
``profiles/venues/<site>-<venue>.yaml`` (schemas in ``agent.profiles.schema``; ``roomops
profiles schema`` exports JSON Schema). Unknown keys, wrong types and cross-file mistakes are
errors naming file, line and key path, all reported in one pass (``ProfileError.issues``).

API used by the agent, ``roomops sim``, tests and the demo::

    site = load_site("profiles/sites/urumqi.yaml")      # ResolvedSite, raises ProfileError
    site.id, site.names["zh"], site.name, site.timezone, site.central_url, site.bridge_uri
    site.central_token()                                 # resolved in memory only
    site.expectations      # {"registered", "hd_rate_kbps", "min_uplink_mbps", "test_uri", ...}
    site.desired_state     # DesiredState: camera_preset, volume, routes, presets,
                           #   display_inputs, codec_network, codec_sip, devices
    site.room              # flat view for agent.site: routes, camera_preset, display_input...
    dev = site.device("codec")                           # or "urumqi.codec"
    dev.id ("urumqi.codec"), dev.local_id, dev.model (ResolvedModel: .id, .driver, .roles,
    .capabilities, .boot_time), dev.driver, dev.roles, dev.identity {"serial": ...},
    dev.outlet (OutletRef: .pdu full id, .pdu_local, .outlet), dev.desired, dev.expect
    (what Driver.selftest_checks(expect) gets), dev.via, dev.url()
    dev.endpoint()          # drivers.roles.Endpoint with the password resolved (memory only)
    dev.resolved_desired()  # desired with the SIP password resolved, for apply_config
    origin_of(site, "codec", "port")        # Choice: value, origin (layer, file, line), hidden
    venue = load_venue("profiles/venues/urumqi-convention-center.yaml", site)
    venue.relocate(site)    # the ResolvedSite as it should be at the new venue
    validate_paths(["profiles"])            # list[Issue], empty when all valid

Layering of device settings: device entry > site ``defaults`` > model profile > built-in.
Relative paths in a profile (secrets_file, serial_device, known_hosts) are under the repo root
(the folder holding ``profiles/``). Secrets: see ``agent.profiles.secrets``. Simulator options
for ``roomops sim`` (``roomops.sim_cli.to_sim_specs``): see ``agent.profiles.simoptions``.
"""

from agent.profiles.errors import Issue, ProfileError
from agent.profiles.layering import Choice, Origin
from agent.profiles.loader import load_model, load_site, load_venue, origin_of, validate_paths
from agent.profiles.resolved import (
    DesiredState,
    OutletRef,
    ResolvedDevice,
    ResolvedModel,
    ResolvedSite,
    ResolvedVenue,
)
from agent.profiles.secrets import SecretError

__all__ = [
    "Choice", "DesiredState", "Issue", "Origin", "OutletRef", "ProfileError", "ResolvedDevice",
    "ResolvedModel", "ResolvedSite", "ResolvedVenue", "SecretError", "load_model", "load_site",
    "load_venue", "origin_of", "validate_paths",
]
