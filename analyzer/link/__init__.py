"""Linking: every file's facts together -> apps, models, routes and evidenced edges.

Pure: it takes the discovered project and the facts, and returns an :class:`Analysis`.
"""

from __future__ import annotations

from analyzer.analysis import Analysis, Edge
from analyzer.discover import Project
from analyzer.facts import FileFacts, Warning_
from analyzer.link.apps import AppLocator, find_apps
from analyzer.link.edges import EdgeBuilder
from analyzer.link.index import CodeIndex
from analyzer.link.models import ModelRegistry
from analyzer.link.routes import RouteBuilder


def link(project: Project, files: list[FileFacts]) -> Analysis:
    warnings: list[Warning_] = list(project.warnings)
    for facts in files:
        warnings.extend(facts.warnings)
    index = CodeIndex(files)
    apps = find_apps(project, index, warnings)
    locator = AppLocator(apps)
    models = ModelRegistry(index, apps, locator, project.auth_user_model, warnings)

    def model_label(ref: str) -> str | None:
        model = models.model_for_ref(ref)
        return model.label if model is not None else None

    model_classes = {m.qualname: m.label for m in models.by_label.values() if not m.abstract}
    routes = RouteBuilder(
        index, locator, warnings, model_label, project.settings_values, model_classes
    ).build(project.root_urlconf)
    edge_set = EdgeBuilder(index, models, locator).build()

    app_by_label = {a.label: a for a in apps}
    for facts in files:
        app = locator.app_of(facts.module)
        if app is not None:
            app.modules.append(facts.module)
    for model in models.by_label.values():
        app = app_by_label.get(model.app)
        if app is None and model.external:
            from analyzer.link.apps import App

            app = app_by_label[model.app] = App(model.app, model.app, None, external=True)
            apps.append(app)
        if app is not None:
            app.models.append(model.label)

    def app_of_node(node: str) -> str | None:
        model = models.by_label.get(node)
        if model is not None:
            return model.app
        app = locator.app_of(node)
        return app.label if app else None

    edges = [
        Edge(source, target, app_of_node(source), app_of_node(target), kind, evidence)
        for source, target, kind, evidence in edge_set
    ]
    return Analysis(
        project={
            "root": str(project.root),
            "source_root": str(project.source_root),
            "settings_module": project.settings_module,
            "urlconf": project.root_urlconf,
            "auth_user_model": models.user_model,
        },
        apps=apps,
        models=sorted(models.by_label.values(), key=lambda m: m.label),
        routes=routes,
        edges=sorted(edges, key=lambda e: (e.kind, e.source, e.target)),
        warnings=warnings,
    )
