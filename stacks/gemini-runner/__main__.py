"""gh-runner-gemini: the Gemini runner fleet, one Deployment wired to the shared stack."""

from runner_k8s.components.fleet_program import fleet_program

fleet_program()
