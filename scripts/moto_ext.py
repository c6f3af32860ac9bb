"""The moto server, plus the API Gateway v2 calls presign-stack makes that moto lacks, and
`GET /moto-api/version` ({"moto": "<version>"}), so scripts/emulator and the tests can check that
the emulator on a port is the moto version they know (see scripts/emulator: 5.2.x answers
GetBucketVersioning in a shape the AWS SDK for Rust rejects).

moto 5.1 answers UpdateStage and GetAuthorizers with 500 ("action has not been implemented").
presign-stack uses the real AWS calls for AWS; this harness-side patch lets the emulator serve
them too, so drift on stage throttling can be repaired in tests as on AWS. Everything else is
moto unchanged. Started by scripts/emulator and the test harness:

    python scripts/moto_ext.py -H 127.0.0.1 -p 4566
"""

import json
from datetime import datetime
from urllib.parse import unquote

import moto
from moto.apigatewayv2.responses import ApiGatewayV2Response
from moto.moto_api._internal import urls as moto_api_urls
from moto.server import main

_STAGE_FIELDS = {
    "autoDeploy": "auto_deploy",
    "description": "description",
    "stageVariables": "stage_variables",
    "routeSettings": "route_settings",
    "accessLogSettings": "access_log_settings",
}


def update_stage(self):
    parts = self.path.split("/")
    api_id, stage_name = parts[-3], unquote(parts[-1])
    stage = self.apigatewayv2_backend.get_stage(api_id, stage_name)
    params = json.loads(self.body or "{}")
    if "defaultRouteSettings" in params:
        stage.default_route_settings = {
            **stage.default_route_settings,
            **params["defaultRouteSettings"],
        }
    for key, attr in _STAGE_FIELDS.items():
        if key in params:
            setattr(stage, attr, params[key])
    stage.updated = datetime.now()
    return 200, {}, json.dumps(stage.to_json())


def get_authorizers(self):
    api_id = self.path.split("/")[-2]
    api = self.apigatewayv2_backend.get_api(api_id)
    items = [a.to_json() for a in api.authorizers.values()]
    return 200, {}, json.dumps({"items": items})


def version(request, full_url, headers):
    return 200, {"Content-Type": "application/json"}, json.dumps({"moto": moto.__version__})


moto_api_urls.url_paths["{0}/moto-api/version$"] = version
ApiGatewayV2Response.update_stage = update_stage
ApiGatewayV2Response.get_authorizers = get_authorizers

if __name__ == "__main__":
    main()
